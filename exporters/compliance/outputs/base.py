"""What every compliance output is: a writer the exporter helper calls with one unit of
work at a time (``ComplianceWork``); the helper queues, retries with backoff and, with a
persistent queue, keeps the work across restarts.

A writer writes all of ``work.data()`` or raises an OSError. Files and streams resume
after a written prefix (``work.progress``, raised in ``PartialWrite``), so lines stay whole;
network outputs send the whole chunk again on a new connection, so framing stays intact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hangar_otelcol.exporters.compliance.work import ComplianceWork
from hangar_otelcol.problems import ProblemLog


class PartialWrite(OSError):
    """An OSError after ``written`` bytes of the chunk reached the destination."""

    def __init__(self, cause: OSError, written: int) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.written = written


class Writer:
    """Base of the outputs: subclasses implement ``_write``, optionally ``reset``/``close``."""

    kind = "output"
    #: a failed write may have written a prefix: resume after it (files, streams)
    resume_partial = True

    def __init__(self, *, logger: logging.Logger, problems: ProblemLog | None = None,
                 on_event: Callable[[str, int], None] | None = None) -> None:
        self._logger = logger
        self._problems = problems or ProblemLog(logger)
        self._on_event = on_event or (lambda _what, _n: None)

    def describe(self) -> str:
        return self.kind

    async def open(self) -> None:
        """Before the first write (files check and repair their end here)."""

    async def write(self, work: ComplianceWork) -> None:
        data = work.data()
        if self.resume_partial and work.progress:
            data = data[work.progress:]
        try:
            await self._write(data, work.messages())
        except PartialWrite as exc:
            if self.resume_partial:
                work.progress += exc.written
            raise

    async def _write(self, data: bytes, messages: list[bytes]) -> None:
        raise NotImplementedError

    async def reset(self) -> None:
        """Forget a broken connection or handle after a failure."""

    async def close(self) -> None:
        """Release resources at shutdown."""

    def reopen(self) -> None:
        """SIGHUP (logrotate): files reopen their path before the next write."""

    def count(self, what: str, n: int) -> None:
        self._on_event(what, n)
