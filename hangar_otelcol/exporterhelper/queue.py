"""The sending queue: what the helper needs of one (``SendingQueue``), the in-memory queue
and the persistent queue (``sending_queue.storage``).

A queue holds ``QueueItem``s: one unit of work each (a Batch, or what an exporter makes of
one, ``ExporterHelper.to_work``), with its size in the configured sizer's unit.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hangar_otelcol.exporterhelper.errors import QueueFullError
from hangar_otelcol.signals import Signal
from hangar_otelcol.storage import StorageClient


class QueueItem:
    """One unit of work in a queue; ``done`` is set for ``wait_for_result`` callers.

    ``work`` is None for an item of a persistent queue whose payload waits as its encoded
    bytes (``data``) or only on disk (it is read when a sender takes it).
    """

    __slots__ = ("cached", "data", "done", "items", "seq", "signal", "size", "work")

    def __init__(self, work: Any, size: int, done: asyncio.Future[None] | None = None, *,
                 signal: Signal | None = None, items: int | None = None) -> None:
        self.work = work
        self.size = size
        self.done = done
        self.signal: Signal = signal if signal is not None else work.signal
        self.items: int = items if items is not None else work.item_count
        #: the item's sequence number in the storage, and the bytes of its payload kept in
        #: memory (persistent queues)
        self.seq = 0
        self.cached = 0
        self.data: bytes | None = None


class SendingQueue(Protocol):
    """What the helper needs of a queue."""

    #: True if what the queue holds survives a restart (put returns once it is on disk)
    durable: bool

    async def open(self) -> int:
        """Load what a previous run left (persistent queues); returns how many items."""

    async def put(self, item: QueueItem, *, block: bool) -> None:
        """Add an item; raise ``QueueFullError`` if full and not ``block``."""

    async def get(self) -> QueueItem | None:
        """The next item; None once the queue is closed and empty."""

    async def ack(self, item: QueueItem) -> None:
        """The item is finished (sent or given up); a persistent queue deletes it here."""

    async def ack_many(self, items: list[QueueItem], state: Mapping[str, bytes | None]
                       ) -> None:
        """Finish ``items`` and, in the same transaction, save the exporter's ``state``
        (a checkpoint: what the items did and the queue position never disagree)."""

    def size(self) -> int: ...

    def size_items(self) -> int:
        """Items (spans, log records, records) of everything queued."""

    def capacity(self) -> int: ...

    async def close(self) -> None:
        """Refuse further puts (waiting ones fail); ``get`` returns None once empty."""

    def drain(self) -> list[QueueItem]:
        """Remove and return everything still queued in memory (at the shutdown deadline;
        a persistent queue keeps it on disk for the next start)."""


class _Waiters:
    """Futures woken one at a time (an asyncio.Condition woke every consumer task per item:
    ~60 µs per batch with 10 consumers, now a few µs)."""

    def __init__(self) -> None:
        self._futures: collections.deque[asyncio.Future[None]] = collections.deque()

    async def wait(self) -> None:
        fut = asyncio.get_running_loop().create_future()
        self._futures.append(fut)
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    def wake_one(self) -> None:
        while self._futures:
            fut = self._futures.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def wake_all(self) -> None:
        while self._futures:
            fut = self._futures.popleft()
            if not fut.done():
                fut.set_result(None)

    def __bool__(self) -> bool:
        return bool(self._futures)


class MemoryQueue:
    """A bounded FIFO in memory; size counted in the unit of the configured sizer."""

    durable = False

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: collections.deque[QueueItem] = collections.deque()
        self._size = 0
        self._closed = False
        self._getters = _Waiters()
        self._putters = _Waiters()

    async def open(self) -> int:
        return 0

    async def _reserve(self, item: QueueItem, block: bool) -> None:
        if self._closed:
            raise QueueFullError("queue is closed")
        if item.size > self._capacity:
            # can never fit, waiting would hang forever
            raise QueueFullError(f"request of size {item.size} exceeds the queue capacity "
                                 f"{self._capacity} (raise sending_queue.queue_size)",
                                 never_fits=True)
        while self._size + item.size > self._capacity:
            if not block:
                raise QueueFullError(f"sending queue is full ({self._size}/{self._capacity})")
            await self._putters.wait()
            if self._closed:
                raise QueueFullError("queue is closed")
        self._size += item.size

    def _push(self, item: QueueItem) -> None:
        self._items.append(item)
        self._getters.wake_one()

    async def put(self, item: QueueItem, *, block: bool) -> None:
        await self._reserve(item, block)
        self._push(item)

    async def get(self) -> QueueItem | None:
        while not self._items:
            if self._closed:
                return None
            await self._getters.wait()
        item = self._items.popleft()
        self._release(item)
        return item

    def _release(self, item: QueueItem) -> None:
        self._size -= item.size
        if self._putters:
            self._putters.wake_all()  # sizes differ: each one checks again

    async def ack(self, item: QueueItem) -> None:
        pass  # nothing to persist

    async def ack_many(self, items: list[QueueItem], state: Mapping[str, bytes | None]
                       ) -> None:
        pass

    def size(self) -> int:
        return self._size

    def size_items(self) -> int:
        return sum(item.items for item in self._items)

    def capacity(self) -> int:
        return self._capacity

    async def close(self) -> None:
        self._closed = True
        self._getters.wake_all()
        self._putters.wake_all()

    def drain(self) -> list[QueueItem]:
        items = list(self._items)
        self._items.clear()
        self._size = 0
        return items


Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes], Any]

#: queue name inside an owner's storage
QUEUE_NAME = "sending_queue"


class PersistentQueue(MemoryQueue):
    """The memory queue's order and bounds, with every item written to a storage first.

    ``put`` returns once the item is committed (the sender may be told the data is
    accepted); ``ack`` deletes it. Items left by a previous run are loaded at ``open`` and
    sent first. What waits is kept in three tiers, so that a backlog costs disk, not memory:
    the next ``live_items`` as the objects the senders take (no work in the steady state),
    then as their encoded bytes while ``memory_budget`` allows (the objects are several
    times larger: a queue of 50k compliance records held as objects took about 100 MB,
    docs/durability.md), beyond that (a long outage) only in the storage, read back when
    their turn comes.
    """

    durable = True

    def __init__(self, capacity: int, client: StorageClient, encode: Encoder,
                 decode: Decoder, sizer: Callable[[Any, int], int], *,
                 live_items: int = 16, memory_budget: int = 16 * 1024 * 1024) -> None:
        super().__init__(capacity)
        self._client = client
        self._encode = encode
        self._decode = decode
        self._sizer = sizer
        self._live = live_items
        self._budget = memory_budget
        self._cached = 0

    async def open(self) -> int:
        pending = await self._client.pending(QUEUE_NAME)
        for seq, size, items, meta in pending:
            item = QueueItem(None, 0, signal=Signal(meta), items=items)
            item.seq = seq
            item.size = self._sizer(item, size)
            self._size += item.size
            self._items.append(item)
        if pending:
            self._getters.wake_all()
        return len(pending)

    async def put(self, item: QueueItem, *, block: bool) -> None:
        data = self._encode(item.work)
        await self._reserve(item, block)
        try:
            item.seq = (await self._client.append(QUEUE_NAME, [data], item.items,
                                                  item.signal.value))[0]
        except BaseException:
            self._release(item)
            raise
        if len(self._items) >= self._live:
            item.work = None
            if self._cached + len(data) <= self._budget:
                self._cached += len(data)
                item.cached = len(data)
                item.data = data
        self._push(item)

    async def get(self) -> QueueItem | None:
        item = await super().get()
        if item is None:
            return None
        if item.work is None:
            data = item.data
            if data is not None:
                self._cached -= item.cached
                item.cached, item.data = 0, None
            else:
                data = (await self._client.read(QUEUE_NAME, [item.seq])).get(item.seq)
            item.work = self._decode(data) if data is not None else None
        return item

    async def ack(self, item: QueueItem) -> None:
        await self._client.remove(QUEUE_NAME, [item.seq])

    async def ack_many(self, items: list[QueueItem], state: Mapping[str, bytes | None]
                       ) -> None:
        await self._client.remove(QUEUE_NAME, [item.seq for item in items], state)

    async def load_state(self) -> dict[str, bytes]:
        return await self._client.load_state()

    def drain(self) -> list[QueueItem]:
        # what is still queued stays in the storage for the next start: nothing is lost
        self._items.clear()
        self._size = 0
        return []
