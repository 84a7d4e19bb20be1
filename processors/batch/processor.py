"""The ``batch`` processor.

A Batch is a list of Parts, so batching is list concatenation: parts are held
(never copied, never mutated) until ``send_batch_size`` items are pending or
``timeout`` has passed since the first one arrived, then handed on as one
Batch. With ``send_batch_max_size`` the batches sent are at most that big; only
a single part bigger than that is split (see split.py).

Acknowledgements are held with the data (``ack_after_export``, the default): a caller's
``consume`` returns only once every batch holding its parts was handed on, with the first
error any of them met. So a receiver answers OK only after the exporters accepted the data
(on disk, with persistent queues) and a refusal downstream reaches the sender, which
retries; the OpenTelemetry Collector answers as soon as it holds the data, and loses it on
a crash (docs/durability.md). With ``ack_after_export: false`` it behaves like the
Collector: errors after batching are logged and counted as dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from hangar_otelcol.component import Consumer, ConsumerError, CreateSettings
from hangar_otelcol.pdata import Batch, Part, Signal
from hangar_otelcol.processorhelper import SignalProcessor

from .config import BatchConfig
from .split import split_part


class _Waiter:
    """One caller waiting for its parts to be handed on: answered when the last of them
    was, or at the first refusal (the sender will retry the whole request anyway)."""

    __slots__ = ("future", "outstanding")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.outstanding = 0

    def sent(self, error: BaseException | None) -> None:
        self.outstanding -= 1
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(error)
        elif self.outstanding <= 0:
            self.future.set_result(None)


class _Shard:
    """What is held for one metadata value combination (one shard without metadata_keys)."""

    __slots__ = ("items", "parts", "timer")

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.items = 0
        self.timer: asyncio.TimerHandle | None = None

    def take_all(self) -> list[Part]:
        parts, self.parts, self.items = self.parts, [], 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        return parts


class BatchProcessor(SignalProcessor[BatchConfig]):
    def __init__(self, settings: CreateSettings, config: BatchConfig, signal: Signal,
                 next_consumer: Consumer) -> None:
        super().__init__(settings, config, signal, next_consumer)
        self._size = config.send_batch_size
        self._max = config.send_batch_max_size
        self._timeout = float(config.timeout)
        self._keys = tuple(k.lower() for k in config.metadata_keys)
        self._shards: dict[tuple[str, ...], _Shard] = {}
        self._sends: set[asyncio.Task[ConsumerError | None]] = set()
        self._stopping = False
        self._hold = config.ack_after_export
        #: id(part) -> the caller waiting for it (ack_after_export)
        self._waiters: dict[int, _Waiter] = {}
        self._size_trigger = self.telemetry.counter(
            "otelcol_processor_batch_batch_size_trigger_send_total",
            "Batches sent because send_batch_size was reached")
        self._timeout_trigger = self.telemetry.counter(
            "otelcol_processor_batch_timeout_trigger_send_total",
            "Batches sent because the timeout fired")
        if self._keys:
            self.telemetry.gauge("otelcol_processor_batch_metadata_cardinality",
                                 "Distinct metadata value combinations being batched",
                                 lambda: len(self._shards))

    # --- consumer --------------------------------------------------------------------

    async def consume(self, batch: Batch) -> None:
        if self._stopping or self._timeout <= 0:
            # timeout 0: nothing is held, only split to the max size
            error = await self._send_all(list(batch.parts), trigger=None)
            if error is not None and self._hold:
                raise error
            return
        if self._keys:
            groups = [(self._shard(key), parts) for key, parts in self._by_key(batch.parts)]
        else:
            shard = self._shards.get(())
            if shard is None:
                shard = self._shards[()] = _Shard()
            groups = [(shard, batch.parts)]
        waiter = self._wait_for(batch.parts) if self._hold else None
        for shard, parts in groups:
            await self._add(shard, parts)
        if waiter is not None:
            await waiter.future

    def _wait_for(self, parts: list[Part]) -> _Waiter:
        waiter = _Waiter(asyncio.get_running_loop().create_future())
        for part in parts:
            self._waiters[id(part)] = waiter
        waiter.outstanding = len(parts)
        return waiter

    def _by_key(self, parts: list[Part]) -> Iterator[tuple[tuple[str, ...], list[Part]]]:
        groups: dict[tuple[str, ...], list[Part]] = {}
        for part in parts:
            meta = part.sender.metadata
            key = tuple(meta.get(k, "") for k in self._keys)
            groups.setdefault(key, []).append(part)
        return iter(groups.items())

    def _shard(self, key: tuple[str, ...]) -> _Shard:
        shard = self._shards.get(key)
        if shard is None:
            if len(self._shards) >= self.config.metadata_cardinality_limit:
                raise ConsumerError(
                    f"processor {self.settings.id}: too many distinct values of "
                    f"{', '.join(self._keys)} (metadata_cardinality_limit "
                    f"{self.config.metadata_cardinality_limit})", permanent=True)
            shard = self._shards[key] = _Shard()
        return shard

    async def _add(self, shard: _Shard, parts: list[Part]) -> None:
        shard.parts.extend(parts)
        shard.items += sum(p.item_count for p in parts)
        if shard.items >= self._size:
            await self._flush_by_size(shard)
        if shard.parts and shard.timer is None:
            loop = asyncio.get_running_loop()
            shard.timer = loop.call_later(self._timeout, self._on_timer, shard)

    async def _flush_by_size(self, shard: _Shard) -> None:
        """Send while at least send_batch_size items are held; the rest keeps waiting."""
        if not self._max:
            await self._send_all(shard.take_all(), trigger="size")
            return
        while shard.items >= self._size and shard.parts:
            batch_parts = self._cut(shard)
            await self._send(batch_parts, trigger="size")
        if not shard.parts and shard.timer is not None:
            shard.timer.cancel()
            shard.timer = None

    def _cut(self, shard: _Shard) -> list[Part]:
        """Take parts from the front of the shard for one batch of at most max items."""
        parts = shard.parts
        room = self._max
        i = 0
        while i < len(parts):
            count = parts[i].item_count
            if count <= room:
                room -= count
                i += 1
                continue
            if i:
                break  # a fresh batch for it rather than a copy to fill this one
            parts[0:1] = self._split(parts[0])
        taken = parts[:i]
        del parts[:i]
        shard.items -= self._max - room
        return taken

    def _split(self, part: Part) -> list[Part]:
        pieces = split_part(self.signal, part, self._max)
        waiter = self._waiters.pop(id(part), None)
        if waiter is not None:  # the caller now waits for every piece
            waiter.outstanding += len(pieces) - 1
            for piece in pieces:
                self._waiters[id(piece)] = waiter
        return pieces

    def _on_timer(self, shard: _Shard) -> None:
        shard.timer = None
        parts = shard.take_all()
        if parts:
            task = asyncio.create_task(self._send_all(parts, trigger="timeout"))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    # --- sending ---------------------------------------------------------------------

    def _batches(self, parts: list[Part]) -> Iterator[list[Part]]:
        if not self._max:
            if parts:
                yield parts
            return
        shard = _Shard()
        shard.parts = parts
        shard.items = sum(p.item_count for p in parts)
        while shard.parts:
            yield self._cut(shard)

    async def _send_all(self, parts: list[Part], trigger: str | None
                        ) -> ConsumerError | None:
        first: ConsumerError | None = None
        for batch_parts in self._batches(parts):
            error = await self._send(batch_parts, trigger)
            first = first or error
        return first

    async def _send(self, parts: list[Part], trigger: str | None) -> ConsumerError | None:
        if not parts:
            return None
        batch = Batch(self.signal, parts)
        items = batch.item_count
        if trigger == "size":
            self._size_trigger.inc()
        elif trigger == "timeout":
            self._timeout_trigger.inc()
        error: ConsumerError | None = None
        try:
            await self.next.consume(batch)
        except ConsumerError as exc:
            error = exc
        except Exception as exc:  # a bug downstream: retryable, so the sender keeps its data
            error = ConsumerError(f"{type(exc).__name__}: {exc}")
            self.problems.error("bug", "%s: the next component failed", self.settings.id,
                                         detail=type(exc).__name__, exc_info=True)
        if self._hold:
            self._release(parts, error)
        elif error is not None:
            # the senders' requests were already answered: nobody to hand this to
            self.telemetry.dropped(self.signal, items)
            text = f"{type(error).__name__}: {error}"
            self.problems.warn("dropped", "%s: dropped %d %s after batching, the next "
                                        "component refused them: %s", self.settings.id, items,
                                        self.signal.item_name, text, detail=text)
        return error

    def _release(self, parts: list[Part], error: ConsumerError | None) -> None:
        waiters = self._waiters
        for part in parts:
            waiter = waiters.pop(id(part), None)
            if waiter is not None:
                waiter.sent(error)

    # --- lifecycle -------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Send everything held (and wait for timer-triggered sends in progress)."""
        self._stopping = True
        for shard in list(self._shards.values()):
            parts = shard.take_all()
            if parts:
                await self._send_all(parts, trigger=None)
        if self._sends:
            await asyncio.wait(list(self._sends))
