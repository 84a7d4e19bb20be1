"""The fault suite's report: every test hands its Tally to ``fault_report``; the table is
printed at the end of the run (and written as JSON lines to $HANGAR_FAULT_REPORT if set),
which is where the figures in the README come from."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict

import pytest

from tests.support.faults import Tally

_TALLIES = pytest.StashKey[list[Tally]]()


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[[Tally], None]:
    def record(tally: Tally) -> None:
        request.config.stash.setdefault(_TALLIES, []).append(tally)
        print(tally.line())
    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    tallies = config.stash.get(_TALLIES, [])
    if not tallies:
        return
    terminalreporter.section("fault suite")
    for tally in tallies:
        terminalreporter.write_line(tally.line())
    path = os.environ.get("HANGAR_FAULT_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            for tally in tallies:
                out.write(json.dumps(asdict(tally)) + "\n")
