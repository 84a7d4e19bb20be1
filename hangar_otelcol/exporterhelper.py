"""The exporter helper: sending queue, retry with backoff and a per-attempt timeout.

Every exporter is built on ``ExporterHelper``. An exporter only implements
``async send(batch)`` (one attempt, raising ``ExportError`` on failure) and,
if it holds a client, ``open(host)`` / ``close()``. The helper owns everything
between ``consume()`` and ``send()``, with the OpenTelemetry Collector's keys
and defaults (``sending_queue``, ``retry_on_failure``, ``timeout``):

    consume(batch) -> SendingQueue.put -> N consumer tasks -> retry(timeout(send))

The queue is behind the small ``SendingQueue`` protocol (put / get / ack / size
/ capacity / close) so that a persistent queue plugs in at one place:
``ExporterHelper(..., queue=MyDiskQueue(...))``.

Shutdown is cooperative: stop accepting, let the consumers drain the queue
(retrying as usual), and when the service's deadline cancels ``shutdown()``,
cancel what is left and count it as ``send_failed``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from hangar_otelcol.component import BaseComponent, ConsumerError, CreateSettings, Host
from hangar_otelcol.config.types import Duration
from hangar_otelcol.pdata import Batch

# --------------------------------------------------------------------------- config


_5S, _30S, _300S = Duration(5.0), Duration(30.0), Duration(300.0)


@dataclass
class QueueConfig:
    """``sending_queue``: where accepted data waits for a consumer task."""

    enabled: bool = True
    num_consumers: int = 10
    #: capacity, in units of ``sizer``
    queue_size: int = 1000
    sizer: Literal["requests", "items", "bytes"] = "requests"
    #: true: a full queue makes the caller wait; false: the data is dropped (counted)
    block_on_overflow: bool = False
    #: true: the caller waits until the data is sent (or failed) and gets the error
    wait_for_result: bool = False

    def validate(self) -> list[str]:
        errors = []
        if self.num_consumers < 1:
            errors.append(f"num_consumers: must be at least 1, got {self.num_consumers}")
        if self.queue_size < 1:
            errors.append(f"queue_size: must be at least 1, got {self.queue_size}")
        return errors


@dataclass
class RetryConfig:
    """``retry_on_failure``: exponential backoff with jitter, as in the Collector."""

    enabled: bool = True
    initial_interval: Duration = _5S
    max_interval: Duration = _30S
    #: give up after this long (0 = retry forever)
    max_elapsed_time: Duration = _300S
    multiplier: float = 1.5
    randomization_factor: float = 0.5

    def validate(self) -> list[str]:
        errors = []
        if self.multiplier < 1:
            errors.append(f"multiplier: must be at least 1, got {self.multiplier}")
        if not 0 <= self.randomization_factor <= 1:
            errors.append("randomization_factor: must be between 0 and 1, "
                          f"got {self.randomization_factor}")
        if self.enabled and self.initial_interval <= 0:
            errors.append("initial_interval: must be greater than 0")
        if self.max_interval < self.initial_interval:
            errors.append("max_interval: must not be less than initial_interval")
        return errors


class HelperSettings(Protocol):
    """What the helper reads from an exporter's config (the Collector's key names)."""

    timeout: float
    sending_queue: QueueConfig
    retry_on_failure: RetryConfig


@dataclass
class HelperConfig:
    """The exporterhelper keys, for exporters that embed nothing else (or inherit them)."""

    #: per attempt (0 = no timeout)
    timeout: Duration = _5S
    sending_queue: QueueConfig = field(default_factory=QueueConfig)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)


# --------------------------------------------------------------------------- errors


class ExportError(Exception):
    """One failed attempt of ``send``.

    ``retryable`` false means the data is bad or refused for good (drop it);
    ``retry_after`` is the server's hint in seconds (Retry-After, RetryInfo).
    """

    def __init__(self, message: str, *, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class QueueFullError(Exception):
    pass


# --------------------------------------------------------------------------- queue


class QueueItem:
    """One batch in a queue; ``done`` is set for ``wait_for_result`` callers."""

    __slots__ = ("batch", "done", "size")

    def __init__(self, batch: Batch, size: int, done: asyncio.Future[None] | None = None
                 ) -> None:
        self.batch = batch
        self.size = size
        self.done = done


class SendingQueue(Protocol):
    """What the helper needs of a queue (in memory here; persistent later)."""

    async def put(self, item: QueueItem, *, block: bool) -> None:
        """Add an item; raise ``QueueFullError`` if full and not ``block``."""

    async def get(self) -> QueueItem | None:
        """The next item; None once the queue is closed and empty."""

    def ack(self, item: QueueItem) -> None:
        """The item is finished (sent or given up); a disk queue deletes it here."""

    def size(self) -> int: ...

    def capacity(self) -> int: ...

    async def close(self) -> None:
        """Refuse further puts (waiting ones fail); ``get`` returns None once empty."""

    def drain(self) -> list[QueueItem]:
        """Remove and return everything still queued (used when giving up at shutdown)."""


class MemoryQueue:
    """A bounded FIFO in memory; size counted in the unit of the configured sizer.

    Waiters are plain futures woken one at a time (an asyncio.Condition woke every
    consumer task per item: ~60 µs per batch with 10 consumers, now a few µs).
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: collections.deque[QueueItem] = collections.deque()
        self._size = 0
        self._closed = False
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._putters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def put(self, item: QueueItem, *, block: bool) -> None:
        if self._closed:
            raise QueueFullError("queue is closed")
        if item.size > self._capacity:
            # can never fit, waiting would hang forever
            raise QueueFullError(f"request of size {item.size} exceeds the queue capacity "
                                 f"{self._capacity}")
        while self._size + item.size > self._capacity:
            if not block:
                raise QueueFullError(f"sending queue is full ({self._size}/{self._capacity})")
            await self._wait(self._putters)
            if self._closed:
                raise QueueFullError("queue is closed")
        self._items.append(item)
        self._size += item.size
        _wake_one(self._getters)

    async def get(self) -> QueueItem | None:
        while not self._items:
            if self._closed:
                return None
            await self._wait(self._getters)
        item = self._items.popleft()
        self._size -= item.size
        if self._putters:
            _wake_all(self._putters)  # sizes differ: each one checks again
        return item

    @staticmethod
    async def _wait(waiters: collections.deque[asyncio.Future[None]]) -> None:
        fut = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    def ack(self, item: QueueItem) -> None:
        pass  # nothing to persist

    def size(self) -> int:
        return self._size

    def capacity(self) -> int:
        return self._capacity

    async def close(self) -> None:
        self._closed = True
        _wake_all(self._getters)
        _wake_all(self._putters)

    def drain(self) -> list[QueueItem]:
        items = list(self._items)
        self._items.clear()
        self._size = 0
        return items


def _wake_one(waiters: collections.deque[asyncio.Future[None]]) -> None:
    while waiters:
        fut = waiters.popleft()
        if not fut.done():
            fut.set_result(None)
            return


def _wake_all(waiters: collections.deque[asyncio.Future[None]]) -> None:
    while waiters:
        fut = waiters.popleft()
        if not fut.done():
            fut.set_result(None)


# --------------------------------------------------------------------------- backoff


class Backoff:
    """The Collector's (cenkalti) exponential backoff: jittered, capped, time-limited."""

    def __init__(self, config: RetryConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._interval = float(config.initial_interval)
        self._start = clock()

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when time is up."""
        c = self._config
        delta = c.randomization_factor * self._interval
        delay = random.uniform(self._interval - delta, self._interval + delta)
        self._interval = min(self._interval * c.multiplier, float(c.max_interval))
        if retry_after is not None and retry_after > delay:
            delay = retry_after  # the server knows better than our jitter
        if c.max_elapsed_time > 0 and self._clock() - self._start + delay > c.max_elapsed_time:
            return None
        return delay


# --------------------------------------------------------------------------- helper

SendFunc = Callable[[Batch], Awaitable[None]]
_HAS_TIMEOUT_CM = sys.version_info >= (3, 11)


class ExporterHelper(BaseComponent):
    """A Consumer that queues, retries and times out calls to ``send``.

    Subclass it and override ``send`` (plus ``open`` / ``close`` for clients),
    or pass ``send=`` to compose it.
    """

    mutates_data = False
    #: ``send`` only uses ``batch.wire()``: queue batches as bytes (``Batch.compact``)
    queues_bytes = False

    def __init__(
        self,
        settings: CreateSettings,
        config: HelperSettings,
        *,
        send: SendFunc | None = None,
        queue: SendingQueue | None = None,
    ) -> None:
        self.settings = settings
        self.logger = settings.logger
        self.telemetry = settings.telemetry
        self._timeout = float(config.timeout)
        self._queue_config = config.sending_queue
        self._retry_config = config.retry_on_failure
        if send is not None:
            self.send = send  # type: ignore[method-assign]
        self._queue: SendingQueue | None = None
        if self._queue_config.enabled:
            self._queue = queue or MemoryQueue(self._queue_config.queue_size)
            self.telemetry.queue_gauges(self._queue.size, self._queue.capacity)
        self._sizer = _SIZERS[self._queue_config.sizer]
        self._consumers: list[asyncio.Task[None]] = []
        self._in_flight: set[QueueItem] = set()
        #: sends running in callers' tasks (queue disabled); shutdown waits for them
        self._inline = 0
        self._inline_done = asyncio.Event()
        self._accepting = False
        self._stopped = False
        self._logged: set[str] = set()

    # --- to override -----------------------------------------------------------------

    async def send(self, batch: Batch) -> None:
        """One attempt to deliver ``batch``; raise ExportError on failure."""
        raise NotImplementedError

    async def open(self, host: Host) -> None:
        """Create clients (called by start, inside the running loop)."""

    async def close(self) -> None:
        """Release clients (called last by shutdown)."""

    # --- lifecycle -------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        await self.open(host)
        self._accepting = True
        if self._queue is not None:
            self._consumers = [
                asyncio.create_task(self._consume_loop(), name=f"{self.settings.id}-sender-{i}")
                for i in range(self._queue_config.num_consumers)]

    async def shutdown(self) -> None:
        """Stop accepting, drain the queue; if cancelled (deadline), count the rest as lost."""
        if self._stopped:
            return
        self._stopped = True
        self._accepting = False
        try:
            if self._queue is not None:
                await self._queue.close()
            if self._consumers:
                await asyncio.wait(self._consumers)  # not gather: leaves the tasks alone
            if self._inline:
                await self._inline_done.wait()
        except asyncio.CancelledError:
            self._abandon()
            await self._close_quietly()
            raise
        await self._close_quietly()

    def _abandon(self) -> None:
        """The deadline is up: cancel senders and count everything not sent as failed."""
        for task in self._consumers:
            task.cancel()  # inline senders are the callers' own tasks: not ours to cancel
        lost = list(self._in_flight)
        if self._queue is not None:
            lost += self._queue.drain()
        self._in_flight.clear()
        items = 0
        for item in lost:
            items += item.batch.item_count
            self.telemetry.send_failed(item.batch.signal, item.batch.item_count)
            self._finish(item, ConsumerError("exporter shut down before the data was sent"))
        if lost:
            self.logger.error("%s: shutdown deadline reached, dropped %d requests (%d items) "
                              "that were not sent", self.settings.id, len(lost), items)

    async def _close_quietly(self) -> None:
        try:
            await self.close()
        except Exception as exc:
            self.logger.warning("%s: error while closing: %s", self.settings.id, exc)

    # --- consumer --------------------------------------------------------------------

    async def consume(self, batch: Batch) -> None:
        if not self._accepting:
            self.telemetry.enqueue_failed(batch.signal, batch.item_count)
            reason = "shutting down" if self._stopped else "not started"
            raise ConsumerError(f"exporter {self.settings.id} is {reason}")
        if self._queue is None:
            await self._send_inline(batch)
            return
        qc = self._queue_config
        done = asyncio.get_running_loop().create_future() if qc.wait_for_result else None
        if self.queues_bytes:
            batch = batch.compact()
        item = QueueItem(batch, self._sizer(batch), done)
        try:
            await self._queue.put(item, block=qc.block_on_overflow)
        except QueueFullError as exc:
            self.telemetry.enqueue_failed(batch.signal, batch.item_count)
            self._log_once(f"enqueue:{exc}", "%s: dropping data: %s", self.settings.id, exc)
            raise ConsumerError(f"exporter {self.settings.id}: {exc}",
                                retry_after=1.0) from None
        if done is not None:
            await done  # raises the ConsumerError set by _finish

    async def _send_inline(self, batch: Batch) -> None:
        """Queue disabled: the caller's task does the sending and gets the error."""
        self._inline += 1
        self._inline_done.clear()
        try:
            error = await self._export(batch)
        finally:
            self._inline -= 1
            if not self._inline:
                self._inline_done.set()
        if error is not None:
            raise error

    async def _consume_loop(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            item = await queue.get()
            if item is None:
                return
            self._in_flight.add(item)
            try:
                error = await self._export(item.batch)
            finally:
                self._in_flight.discard(item)
            queue.ack(item)
            self._finish(item, error)

    @staticmethod
    def _finish(item: QueueItem, error: ConsumerError | None) -> None:
        if item.done is not None and not item.done.done():
            if error is None:
                item.done.set_result(None)
            else:
                item.done.set_exception(error)

    # --- sending ---------------------------------------------------------------------

    async def _export(self, batch: Batch) -> ConsumerError | None:
        """Send with timeout and retries; count the outcome; never raises (but Cancelled)."""
        backoff: Backoff | None = None
        signal, items = batch.signal, batch.item_count
        while True:
            try:
                if self._timeout <= 0:
                    await self.send(batch)
                elif _HAS_TIMEOUT_CM:
                    # no extra task per attempt, unlike wait_for on 3.11 (~10 µs)
                    async with asyncio.timeout(self._timeout):  # type: ignore[attr-defined]
                        await self.send(batch)
                else:
                    await asyncio.wait_for(self.send(batch), self._timeout)
                self.telemetry.sent(signal, items)
                return None
            except ExportError as exc:
                error: ExportError = exc
            except asyncio.TimeoutError:
                error = ExportError(f"timed out after {self._timeout:g}s", retryable=True)
            except OSError as exc:
                error = ExportError(f"{type(exc).__name__}: {exc}", retryable=True)
            except Exception as exc:
                # a bug in the exporter: retrying would only repeat it
                self._log_once(f"bug:{type(exc).__name__}", "%s: unexpected error in send",
                               self.settings.id, exc_info=True)
                error = ExportError(f"{type(exc).__name__}: {exc}")
            if not error.retryable:
                return self._give_up(batch, f"permanent error: {error}", permanent=True)
            if not self._retry_config.enabled:
                return self._give_up(batch, f"{error} (retry_on_failure disabled)",
                                     retry_after=error.retry_after)
            if backoff is None:
                backoff = Backoff(self._retry_config)
            delay = backoff.next_delay(error.retry_after)
            if delay is None:
                return self._give_up(
                    batch, f"{error}; no more retries left after "
                    f"{self._retry_config.max_elapsed_time:g}s", retry_after=error.retry_after)
            self._log_once(f"retry:{error}", "%s: export failed, will retry: %s (next attempt in "
                           "%.2fs; logged once per distinct error)", self.settings.id, error,
                           delay)
            await asyncio.sleep(delay)

    def _give_up(self, batch: Batch, reason: str, *, permanent: bool = False,
                 retry_after: float | None = None) -> ConsumerError:
        self.telemetry.send_failed(batch.signal, batch.item_count)
        self._log_once(f"drop:{reason}", "%s: dropping %d %s: %s", self.settings.id,
                       batch.item_count, batch.signal.item_name, reason)
        return ConsumerError(f"exporter {self.settings.id}: {reason}", permanent=permanent,
                             retry_after=retry_after)

    def _log_once(self, key: str, msg: str, *args: Any, exc_info: bool = False) -> None:
        """One line per distinct problem, not per batch (bounded memory)."""
        if key in self._logged:
            return
        if len(self._logged) > 1000:
            self._logged.clear()
        self._logged.add(key)
        self.logger.log(logging.WARNING, msg, *args, exc_info=exc_info)

    # --- introspection (tests, zpages) ---------------------------------------------------

    @property
    def queue(self) -> SendingQueue | None:
        return self._queue


def _size_bytes(batch: Batch) -> int:
    return sum(len(p.wire()) for p in batch.parts)


_SIZERS: dict[str, Callable[[Batch], int]] = {
    "requests": lambda batch: 1,
    "items": lambda batch: batch.item_count,
    "bytes": _size_bytes,
}
