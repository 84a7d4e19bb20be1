"""The bounded, non-blocking buffer every output is built on.

``submit()`` never blocks and never raises: it appends framed messages to a
bounded deque (a full buffer drops the *new* messages and counts them, so what
is already queued keeps its order). One writer task drains the deque, one
``_send()`` per chunk (many messages, one write), and on failure keeps the
chunk, backs off exponentially and tries again; so a receiver or a disk that
is down stalls nothing upstream and loses nothing until the buffer is full.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

from hangar_otelcol.problems import ProblemLog

#: upper bound of one write, so one huge backlog does not become one huge syscall
MAX_CHUNK_BYTES = 256 * 1024


class Stats:
    """Per-output counters (mirrored into self-metrics by the exporter)."""

    __slots__ = ("dropped", "failed", "resent", "written")

    def __init__(self) -> None:
        self.written = 0  # messages handed to the destination successfully
        self.failed = 0  # failed write attempts (messages stay buffered and are retried)
        self.dropped = 0  # messages lost: buffer full, unsendable, or shutdown deadline
        self.resent = 0  # messages sent again after a connection break (see syslog_net)


class BufferedOutput:
    """Base class: subclasses implement ``_send(data)``, optionally ``_reset()``/``_close()``."""

    kind = "output"
    #: a failed write may have written a prefix; file/stream outputs resume after it,
    #: network outputs resend the whole chunk on a new connection (framing stays intact)
    resume_partial = True

    def __init__(self, *, buffer_size: int, logger: logging.Logger,
                 problems: ProblemLog | None = None, initial_backoff: float = 0.1,
                 max_backoff: float = 30.0,
                 on_event: Callable[[str, int], None] | None = None) -> None:
        self._buf: collections.deque[bytes] = collections.deque()
        self._capacity = max(1, buffer_size)
        self._logger = logger
        self._problems = problems or ProblemLog(logger)
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._inflight: list[bytes] = []
        self._inflight_data = b""
        self._inflight_offset = 0
        self._failing = False
        self._on_event = on_event or (lambda _what, _n: None)
        self.stats = Stats()

    # ---------------------------------------------------------------- producer side

    def submit(self, messages: list[bytes]) -> int:
        """Queue framed messages; returns how many were dropped because the buffer is full."""
        room = self._capacity - len(self._buf) - len(self._inflight)
        dropped = 0
        if len(messages) > room:
            dropped = len(messages) - max(room, 0)
            messages = messages[:max(room, 0)]
            self._count("dropped", dropped)
            self._problems.warn("buffer_full", "%s: buffer full (%d records); dropping new "
                                "records until the destination catches up", self.describe(),
                                self._capacity)
        if messages:
            self._buf.extend(messages)
            self._wakeup.set()
        return dropped

    @property
    def buffered(self) -> int:
        return len(self._buf) + len(self._inflight)

    def describe(self) -> str:
        return self.kind

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name=f"compliance-{self.kind}")

    async def shutdown(self) -> None:
        """Flush what is buffered (the service's drain deadline cancels us if it takes long)."""
        self._closing = True
        self._wakeup.set()
        task = self._task
        if task is not None:
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                task.cancel()
                lost = self.buffered
                if lost:
                    self._count("dropped", lost)
                    self._logger.error("%s: shutdown deadline reached; %d compliance records "
                                       "were not written", self.describe(), lost)
                raise
            finally:
                await self._close()

    async def flush(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until everything submitted so far was written; for tests and the API."""
        deadline = time.monotonic() + timeout
        while self.buffered and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return not self.buffered

    # ---------------------------------------------------------------- writer task

    async def _run(self) -> None:
        backoff = self._initial_backoff
        while True:
            if not self._inflight:
                if not self._buf:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                self._take_chunk()
            try:
                if self._inflight_offset:
                    data = self._inflight_data[self._inflight_offset:]
                else:
                    data = self._inflight_data
                await self._send(data, self._inflight)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: keep the chunk, back off, retry
                written = getattr(exc, "written", 0)
                if self.resume_partial and written:
                    self._inflight_offset += written
                self._count("failed", len(self._inflight))
                self._failing = True
                self._problems.warn("write_failed", "%s: write failed (%s); %d records kept, "
                                    "retrying in %.1fs", self.describe(), exc, self.buffered,
                                    backoff, detail=f"{type(exc).__name__}:{exc}")
                await self._reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            self._count("written", len(self._inflight))
            if self._failing:
                self._logger.info("%s: writing again", self.describe())
                self._failing = False
            backoff = self._initial_backoff
            self._inflight = []
            self._inflight_data = b""
            self._inflight_offset = 0

    def _take_chunk(self) -> None:
        buf = self._buf
        chunk: list[bytes] = []
        size = 0
        while buf and (not chunk or size + len(buf[0]) <= MAX_CHUNK_BYTES):
            msg = buf.popleft()
            chunk.append(msg)
            size += len(msg)
        self._inflight = chunk
        self._inflight_data = b"".join(chunk)
        self._inflight_offset = 0

    def requeue(self, messages: list[bytes]) -> None:
        """Put messages back at the front (oldest first), e.g. after a connection broke."""
        if messages:
            self._buf.extendleft(reversed(messages))
            self._count("resent", len(messages))
            self._wakeup.set()

    def _count(self, what: str, n: int) -> None:
        setattr(self.stats, what, getattr(self.stats, what) + n)
        self._on_event(what, n)

    # ---------------------------------------------------------------- subclass hooks

    async def _send(self, data: bytes, messages: list[bytes]) -> None:
        raise NotImplementedError

    async def _reset(self) -> None:
        """Forget a broken connection/handle after a failure."""

    async def _close(self) -> None:
        """Release resources at shutdown."""


class PartialWrite(OSError):
    """An OSError after ``written`` bytes of the chunk reached the destination."""

    def __init__(self, cause: OSError, written: int) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.written = written


