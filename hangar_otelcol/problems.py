"""The one way a component reports a problem: counted every time, logged once a minute.

A problem is a short stable code (``retry``, ``bad_token``, ``buffer_full``) plus an
optional detail that separates distinct cases of it (the error text). Every occurrence
increments ``otelcol_component_problems_total{kind,component,problem}``; the log gets one
line per (code, detail) at most every ``interval`` seconds, never one per record. Memory
is bounded: at most ``max_keys`` distinct (code, detail) pairs are remembered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from hangar_otelcol.telemetry import FastCounter

PROBLEMS_METRIC = "otelcol_component_problems_total"


class ProblemLog:
    def __init__(self, logger: logging.Logger, counter: FastCounter | None = None,
                 labels: tuple[str, ...] = (), *, interval: float = 60.0,
                 max_keys: int = 1000, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self._counter = counter
        self._labels = labels
        self.interval = interval
        self._max_keys = max_keys
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}

    def report(self, problem: str, message: str, *args: Any, detail: str = "",
               level: int = logging.WARNING, exc_info: bool = False) -> bool:
        """Count ``problem`` and log ``message % args`` unless it was logged recently.

        Returns True if a line was written.
        """
        if self._counter is not None:
            self._counter.inc((*self._labels, problem))
        key = (problem, detail)
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        if len(self._last) >= self._max_keys:
            self._last.clear()
        self._last[key] = now
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True

    def warn(self, problem: str, message: str, *args: Any, detail: str = "") -> bool:
        return self.report(problem, message, *args, detail=detail)

    def error(self, problem: str, message: str, *args: Any, detail: str = "",
              exc_info: bool = False) -> bool:
        return self.report(problem, message, *args, detail=detail, level=logging.ERROR,
                           exc_info=exc_info)
