"""What the authenticator extensions' tests share: credentials in a header, a refusal, the
errors of a config, a credential file replaced at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hangar_otelcol.auth import Authenticator, AuthError, Credentials
from hangar_otelcol.component import Factory
from hangar_otelcol.config.types import ConfigError, build


def creds(value: str | None, header: str = "authorization") -> Credentials:
    """An HTTP request's credentials: ``header: value``, or no header with None."""
    return Credentials("http", "127.0.0.1", {} if value is None else {header: value})


async def refused(ext: Authenticator, value: str | None, header: str = "authorization"
                  ) -> AuthError:
    """The AuthError ``ext`` answers ``header: value`` with."""
    with pytest.raises(AuthError) as info:
        await ext.authenticate(creds(value, header))
    return info.value


def config_errors(factory: Factory, raw: dict[str, Any], where: str) -> list[str]:
    """The errors building ``factory``'s config from ``raw`` (at ``where``) reports."""
    with pytest.raises(ConfigError) as info:
        build(factory.config_class, raw, where)
    return info.value.errors


def replace_file(path: Path, text: str) -> None:
    """Replace the file at once (a new inode), as a secret manager or `mv` does."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
