"""``ExporterHelper``: a Consumer that queues, retries and times out calls to ``send``.

An exporter only implements ``async send(batch)`` (one attempt, raising ``ExportError`` on
failure) and, if it holds a client, ``open(host)`` / ``close()``:

    consume(batch) -> SendingQueue.put -> N consumer tasks -> retry(timeout(send))

Shutdown is cooperative: stop accepting, let the consumers drain the queue (retrying as
usual), and when the service's deadline cancels ``shutdown()``, cancel what is left and
count it as ``send_failed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from hangar_otelcol.component import BaseComponent, ConsumerError, CreateSettings, Host
from hangar_otelcol.exporterhelper.backoff import Backoff
from hangar_otelcol.exporterhelper.config import HelperSettings
from hangar_otelcol.exporterhelper.errors import ExportError, QueueFullError
from hangar_otelcol.exporterhelper.queue import MemoryQueue, QueueItem, SendingQueue
from hangar_otelcol.pdata import Batch

SendFunc = Callable[[Batch], Awaitable[None]]


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
        self.problems = settings.problems
        self.telemetry = settings.telemetry
        self._timeout = float(config.timeout)
        self._queue_config = config.sending_queue
        self._retry_config = config.retry_on_failure
        if send is not None:
            self.send = send  # type: ignore[method-assign,assignment]
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
            self.problems.warn("enqueue_failed", "%s: refusing data: %s", self.settings.id, exc,
                               detail=str(exc))
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
                else:
                    # no extra task per attempt, unlike wait_for on 3.11 (~10 µs)
                    async with asyncio.timeout(self._timeout):
                        await self.send(batch)
                self.telemetry.sent(signal, items)
                return None
            except ExportError as exc:
                error: ExportError = exc
            except TimeoutError:
                error = ExportError(f"timed out after {self._timeout:g}s", retryable=True)
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
            if backoff is None:
                backoff = Backoff(self._retry_config)
            delay = backoff.next_delay(error.retry_after)
            if delay is None:
                return self._give_up(
                    batch, f"{error}; no more retries left after "
                    f"{self._retry_config.max_elapsed_time:g}s", retry_after=error.retry_after)
            self.problems.warn("retry", "%s: export failed, will retry: %s (next attempt in "
                               "%.2fs)", self.settings.id, error, delay, detail=str(error))
            await asyncio.sleep(delay)

    def _give_up(self, batch: Batch, reason: str, *, permanent: bool = False,
                 retry_after: float | None = None) -> ConsumerError:
        self.telemetry.send_failed(batch.signal, batch.item_count)
        self.problems.warn("dropped", "%s: dropping %d %s: %s", self.settings.id,
                           batch.item_count, batch.signal.item_name, reason, detail=reason)
        return ConsumerError(f"exporter {self.settings.id}: {reason}", permanent=permanent,
                             retry_after=retry_after)

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
