"""``ExporterHelper``: a Consumer that queues, retries and times out calls to ``send``.

An exporter only implements ``async send(work)`` (one attempt, raising ``ExportError`` on
failure) and, if it holds a client, ``open(host)`` / ``close()``:

    consume(batch) -> to_work(batch) -> SendingQueue.put -> N consumer tasks
                   -> retry(timeout(send(work))) -> SendingQueue.ack

``work`` is the batch itself unless the exporter says otherwise (``to_work``: the compliance
exporter queues formatted lines). With ``sending_queue.storage`` the queue is persistent:
``consume`` returns once the work is committed to the storage (``encode_work``), so the
receiver's OK means "on disk"; after a restart the queue is loaded and sent first
(``decode_work``). docs/durability.md says what is guaranteed.

Shutdown is cooperative: stop accepting, let the consumers drain the queue (retrying as
usual), and when the service's deadline cancels ``shutdown()``, cancel what is left and
count it as ``send_failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from hangar_otelcol.component import BaseComponent, ConsumerError, CreateSettings, Host
from hangar_otelcol.exporterhelper.backoff import Backoff
from hangar_otelcol.exporterhelper.config import HelperSettings
from hangar_otelcol.exporterhelper.envelope import decode_batch, encode_batch
from hangar_otelcol.exporterhelper.errors import ExportError, QueueFullError
from hangar_otelcol.exporterhelper.queue import (
    MemoryQueue,
    PersistentQueue,
    QueueItem,
    SendingQueue,
)
from hangar_otelcol.pdata import Batch
from hangar_otelcol.storage import CAPABILITY as STORAGE
from hangar_otelcol.storage import Storage, StorageFull
from hangar_otelcol.tasks import cancel_and_wait

SendFunc = Callable[[Any], Awaitable[None]]


class ExporterHelper(BaseComponent):
    """A Consumer that queues, retries and times out calls to ``send``.

    Subclass it and override ``send`` (plus ``open`` / ``close`` for clients),
    or pass ``send=`` to compose it.
    """

    mutates_data = False
    #: ``send`` only uses ``batch.wire()``: queue batches as bytes (``Batch.compact``)
    queues_bytes = False
    #: > 0: with a persistent queue, sent items are acknowledged only every this many
    #: seconds (and at shutdown), together with ``checkpoint_state()`` in one transaction,
    #: so the exporter's own state (counters, what it delivered) and the queue position
    #: never disagree after a crash
    checkpoint_interval = 0.0

    def __init__(
        self,
        settings: CreateSettings,
        config: HelperSettings,
        *,
        send: SendFunc | None = None,
        queue: SendingQueue | None = None,
    ) -> None:
        super().__init__(settings)
        self._timeout = float(config.timeout)
        #: the timeout of the next attempt: grows after a timeout, shrinks back when the
        #: destination answers fast again (see _export)
        self._attempt_timeout = self._timeout
        #: set (and replaced) when a retried batch got through: the destination is back,
        #: so the batches waiting in their backoff go now instead of up to max_interval
        #: later; set for good at the shutdown of a persistent queue (see _export)
        self._retry_now = asyncio.Event()
        self._queue_config = config.sending_queue
        self._retry_config = config.retry_on_failure
        if send is not None:
            self.send = send  # type: ignore[method-assign,assignment]
        self._queue: SendingQueue | None = None
        if self._queue_config.enabled and not self._queue_config.storage:
            self._queue = queue or MemoryQueue(self._queue_config.queue_size)
            self.telemetry.queue_gauges(self._queue.size, self._queue.capacity)
        self._sizer = _SIZERS[self._queue_config.sizer]
        self._timeouts = self.telemetry.counter(
            "otelcol_exporter_send_timeouts_total",
            "Send attempts that timed out (the destination may have received the data: the "
            "retry, with a longer timeout, may be a duplicate there)")
        self._replayed = self.telemetry.counter(
            "otelcol_exporter_queue_replayed_total",
            "Requests a persistent queue held at start (accepted before a restart); those "
            "that were in flight when the gateway stopped may reach the destination twice")
        self._consumers: list[asyncio.Task[None]] = []
        self._in_flight: set[QueueItem] = set()
        #: sends running in callers' tasks (queue disabled); shutdown waits for them
        self._inline = 0
        self._inline_done = asyncio.Event()
        self._accepting = False
        self._stopped = False
        #: sent items waiting for the next checkpoint (checkpoint_interval)
        self._done: list[QueueItem] = []
        #: items accepted and not finished yet (queued, in flight or being sent inline)
        self.queued_items = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._checkpointer: asyncio.Task[None] | None = None

    # --- to override -----------------------------------------------------------------

    async def send(self, work: Any) -> None:
        """One attempt to deliver ``work`` (a Batch unless ``to_work`` says otherwise);
        raise ExportError on failure."""
        raise NotImplementedError

    async def to_work(self, batch: Batch) -> Any:
        """What the queue holds for ``batch``: anything with ``signal`` and ``item_count``
        (None: nothing to send). The batch, as bytes only when ``send`` needs nothing else
        (``queues_bytes``)."""
        return batch.compact() if self.queues_bytes else batch

    async def restore_state(self, state: dict[str, bytes]) -> None:
        """What ``checkpoint_state`` saved before the last stop (persistent queues)."""

    def checkpoint_state(self) -> dict[str, bytes | None]:
        """State to save with the items acknowledged now (None deletes a key)."""
        return {}

    def given_up(self, work: Any) -> None:
        """``work`` will not be sent (a permanent error, or no retries left)."""

    def encode_work(self, work: Any) -> bytes:
        """``work`` as a persistent queue stores it (default: the Batch envelope)."""
        return encode_batch(work)

    def decode_work(self, data: bytes) -> Any:
        return decode_batch(data)

    async def open(self, host: Host) -> None:
        """Create clients (called by start, inside the running loop)."""

    async def close(self) -> None:
        """Release clients (called last by shutdown)."""

    # --- lifecycle -------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        qc = self._queue_config
        if qc.storage:  # naming a storage asks for a queue on it, whatever ``enabled`` says
            storage = host.extension(qc.storage)
            if not isinstance(storage, Storage):
                raise ValueError(f"sending_queue.storage: extension {qc.storage!r} provides "
                                 f"no {STORAGE}")
            queue = PersistentQueue(qc.queue_size, storage.client(str(self.settings.id)),
                                    self.encode_work, self.decode_work, self._stored_size)
            loaded = await queue.open()
            await self.restore_state(await queue.load_state())
            self._track(queue.size_items())
            if loaded:
                self._replayed.inc(amount=loaded)
                self.logger.info("%s: %d requests accepted before the last stop are sent "
                                 "first", self.settings.id, loaded)
            self._queue = queue
            self.telemetry.queue_gauges(queue.size, queue.capacity)
        await self.open(host)
        self._accepting = True
        if self._queue is not None:
            self._consumers = [
                asyncio.create_task(self._consume_loop(), name=f"{self.settings.id}-sender-{i}")
                for i in range(self._queue_config.num_consumers)]
            if self._checkpointing:
                self._checkpointer = asyncio.create_task(
                    self._checkpoint_every(), name=f"{self.settings.id}-checkpoint")

    @property
    def _checkpointing(self) -> bool:
        return bool(self.checkpoint_interval) and self._queue is not None and \
            self._queue.durable

    async def _checkpoint_every(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_interval)
            try:
                await self.checkpoint()
            except Exception as exc:  # the storage is full or gone: items stay queued
                self.problems.error("checkpoint", "%s: cannot save a checkpoint: %s",
                                    self.settings.id, exc, detail=type(exc).__name__)

    async def checkpoint(self) -> None:
        """Acknowledge what was sent since the last checkpoint, with the exporter's state."""
        if self._queue is None:
            return
        items, self._done = self._done, []
        state = self.checkpoint_state()
        if not items and not state:
            return
        try:
            await self._queue.ack_many(items, state)
        except BaseException:
            self._done[:0] = items  # not acknowledged: next time
            raise

    async def shutdown(self) -> None:
        """Stop accepting, drain the queue; if cancelled (deadline), count the rest as lost.
        A persistent queue sends what it can and keeps, for the next start, what fails."""
        if self._stopped:
            return
        self._stopped = True
        if self._queue is not None and self._queue.durable:
            self._retry_now.set()
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
            await self._stop_checkpoints()
            await self._close_quietly()
            raise
        await self._stop_checkpoints()
        await self._close_quietly()

    async def _stop_checkpoints(self) -> None:
        task, self._checkpointer = self._checkpointer, None
        if task is None:
            return
        await cancel_and_wait(task)
        try:
            await self.checkpoint()  # the last one: nothing sent is sent again
        except Exception as exc:
            self.logger.error("%s: the last checkpoint was not saved (%s); what was sent "
                              "since the one before may be sent again", self.settings.id, exc)

    def _abandon(self) -> None:
        """The deadline is up: cancel senders and count everything not sent as failed
        (a persistent queue keeps it on disk for the next start instead)."""
        for task in self._consumers:
            task.cancel()  # inline senders are the callers' own tasks: not ours to cancel
        if self._queue is not None and self._queue.durable:
            kept = len(self._in_flight) + self._queue.size()
            self._in_flight.clear()
            if kept:
                self.logger.warning("%s: shutdown deadline reached; %d requests stay in the "
                                    "persistent queue and are sent after the next start",
                                    self.settings.id, kept)
            return
        lost = list(self._in_flight)
        if self._queue is not None:
            lost += self._queue.drain()
        self._in_flight.clear()
        items = 0
        for item in lost:
            items += item.items
            self.telemetry.send_failed(item.signal, item.items)
            self._track(-item.items)
            if item.work is not None:
                self.given_up(item.work)
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
        work = await self.to_work(batch)
        if work is None:  # nothing in it for this exporter
            self.telemetry.sent(batch.signal, batch.item_count)
            return
        await self.enqueue(work)

    async def enqueue(self, work: Any) -> None:
        """Queue ``work`` (or send it at once without a queue); returns once it is accepted
        (committed to the storage with a persistent queue). Refusals are retryable
        ConsumerErrors the receiver turns into 503 / UNAVAILABLE with a retry hint."""
        if not self._accepting:
            reason = "shutting down" if self._stopped else "not started"
            raise ConsumerError(f"exporter {self.settings.id} is {reason}", retry_after=1.0)
        if self._queue is None:
            self._track(work.item_count)
            try:
                await self._send_inline(work)
            finally:
                self._track(-work.item_count)
            return
        qc = self._queue_config
        done = asyncio.get_running_loop().create_future() if qc.wait_for_result else None
        item = QueueItem(work, self._sizer(work), done)
        try:
            await self._queue.put(item, block=qc.block_on_overflow)
        except (QueueFullError, StorageFull) as exc:
            self.telemetry.enqueue_failed(work.signal, work.item_count)
            self.problems.warn("enqueue_failed", "%s: refusing data: %s", self.settings.id, exc,
                               detail=type(exc).__name__)
            never = isinstance(exc, QueueFullError) and exc.never_fits
            raise ConsumerError(f"exporter {self.settings.id}: {exc}", permanent=never,
                                retry_after=None if never else 1.0) from None
        self._track(item.items)
        if done is not None:
            await done  # raises the ConsumerError set by _finish

    def _track(self, items: int) -> None:
        self.queued_items += items
        if self.queued_items > 0:
            self._idle.clear()
        else:
            self._idle.set()

    async def idle(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until everything accepted was sent or given up; True if so."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _send_inline(self, batch: Any) -> None:
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
            if item.work is None:  # a persistent queue lost the payload (never expected)
                self.problems.error("queue_corrupt", "%s: queued request %d could not be read "
                                    "back; dropped", self.settings.id, item.seq)
                self._track(-item.items)
                await queue.ack(item)
                continue
            self._in_flight.add(item)
            try:
                error = await self._export(item.work)
            finally:
                self._in_flight.discard(item)
                self._track(-item.items)
            if error is _KEPT:  # not acknowledged: it stays in the storage
                self._finish(item, error)
                return
            if self._checkpointing:
                self._done.append(item)
            else:
                await queue.ack(item)
            self._finish(item, error)

    @staticmethod
    def _finish(item: QueueItem, error: ConsumerError | None) -> None:
        if item.done is not None and not item.done.done():
            if error is None:
                item.done.set_result(None)
            else:
                item.done.set_exception(error)

    # --- sending ---------------------------------------------------------------------

    async def _export(self, batch: Any) -> ConsumerError | None:
        """Send with timeout and retries; count the outcome; never raises (but Cancelled)."""
        backoff: Backoff | None = None
        signal, items = batch.signal, batch.item_count
        loop = asyncio.get_running_loop()
        while True:
            timeout = self._attempt_timeout
            started = loop.time()
            try:
                if timeout <= 0:
                    await self.send(batch)
                else:
                    # no extra task per attempt, unlike wait_for on 3.11 (~10 µs)
                    async with asyncio.timeout(timeout):
                        await self.send(batch)
                if timeout > self._timeout and loop.time() - started < timeout / 4:
                    self._attempt_timeout = max(self._timeout, timeout / 2)
                if backoff is not None and not self._stopped:  # it came back
                    self._retry_now.set()
                    self._retry_now = asyncio.Event()
                self.telemetry.sent(signal, items)
                return None
            except ExportError as exc:
                error: ExportError = exc
            except TimeoutError:
                # the destination may have the data and only answer late: every retry with
                # the same timeout would send another copy that also times out. The next
                # attempts (of every batch: the destination is slow, not this batch) wait
                # twice as long, up to 8x, so only the batches in flight now are sent twice,
                # and the queue behind them fills, which slows intake.
                self._timeouts.inc()
                error = ExportError(f"timed out after {timeout:g}s", retryable=True)
                self._attempt_timeout = min(max(self._attempt_timeout, timeout * 2),
                                            self._timeout * 8)
            except OSError as exc:
                error = ExportError(f"{type(exc).__name__}: {exc}", retryable=True)
            except Exception as exc:
                # a bug in the exporter: retrying would only repeat it
                self.problems.error("bug", "%s: unexpected error in send", self.settings.id,
                                    detail=type(exc).__name__, exc_info=True)
                error = ExportError(f"{type(exc).__name__}: {exc}")
            if not error.retryable:
                return self._give_up(batch, f"permanent error: {error}", permanent=True)
            if not self._retry_config.enabled:
                return self._give_up(batch, f"{error} (retry_on_failure disabled)",
                                     retry_after=error.retry_after)
            if self._stopped and self._queue is not None and self._queue.durable:
                # shutting down: the storage keeps it for the next start; waiting for the
                # destination would only hold the shutdown up (and the rest of the queue)
                return _KEPT
            if backoff is None:
                backoff = Backoff(self._retry_config)
            delay = backoff.next_delay(error.retry_after)
            if delay is None:
                return self._give_up(
                    batch, f"{error}; no more retries left after "
                    f"{self._retry_config.max_elapsed_time:g}s", retry_after=error.retry_after)
            self.problems.warn("retry", "%s: export failed, will retry: %s (next attempt in "
                               "%.2fs)", self.settings.id, error, delay, detail=str(error))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._retry_now.wait()

    def _give_up(self, batch: Any, reason: str, *, permanent: bool = False,
                 retry_after: float | None = None) -> ConsumerError:
        self.telemetry.send_failed(batch.signal, batch.item_count)
        self.given_up(batch)
        self.problems.warn("dropped", "%s: dropping %d %s: %s", self.settings.id,
                           batch.item_count, batch.signal.item_name, reason, detail=reason)
        return ConsumerError(f"exporter {self.settings.id}: {reason}", permanent=permanent,
                             retry_after=retry_after)

    # --- introspection (tests, zpages) ---------------------------------------------------

    @property
    def attempt_timeout(self) -> float:
        """The current per-attempt timeout (0: none), for a transport's own deadline."""
        return self._attempt_timeout

    @property
    def queue(self) -> SendingQueue | None:
        return self._queue


    def _stored_size(self, item: QueueItem, stored_bytes: int) -> int:
        """The size of an item loaded from a persistent queue, in the sizer's unit."""
        sizer = self._queue_config.sizer
        if sizer == "items":
            return item.items
        return stored_bytes if sizer == "bytes" else 1


def _size_bytes(work: Any) -> int:
    parts = getattr(work, "parts", None)
    if parts is None:
        return int(getattr(work, "size", 0))
    return sum(len(p.wire()) for p in parts)


#: what a sender returns for a batch it leaves in the persistent queue at shutdown
_KEPT = ConsumerError("the gateway is shutting down; kept in the persistent queue and sent "
                      "after the next start")

_SIZERS: dict[str, Callable[[Any], int]] = {
    "requests": lambda work: 1,
    "items": lambda work: int(work.item_count),
    "bytes": _size_bytes,
}
