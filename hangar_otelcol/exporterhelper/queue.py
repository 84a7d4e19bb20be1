"""The sending queue: what the helper needs of one (``SendingQueue``) and the in-memory one.

A persistent queue plugs in at the same protocol (put / get / ack / size / capacity /
close / drain).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Protocol

from hangar_otelcol.exporterhelper.errors import QueueFullError
from hangar_otelcol.pdata import Batch


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
