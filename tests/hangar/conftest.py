"""The real-hangar tests need the hangar venvs; build them once per session (cached)."""

from __future__ import annotations

import pytest

from tests.hangar import hangars


@pytest.fixture(scope="session")
def hangar_venvs() -> None:
    reason = hangars.ensure_venvs()
    if reason:
        pytest.skip(reason)
