"""Where things are: everything the tests read lies inside the repository."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTDATA = REPO / "tests" / "testdata"
