"""Durable storage for components: persistent queues and small state, in one SQLite file.

The ``file_storage`` extension provides it; a component names the extension
(``sending_queue.storage: file_storage``, ``storage: file_storage``) and asks it for a
client of its own (``Storage.client(owner)``): its queues and its state are namespaced by
that owner, so several components (and the workers of one gateway) share one file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from hangar_otelcol.storage.sqlite import SqliteDB, StorageFull

#: the capability a storage extension declares (``Factory.provides``)
CAPABILITY = "storage"


class StorageClient(Protocol):
    """One owner's queues and state. Every write is durable when the call returns."""

    async def append(self, queue: str, payloads: Sequence[bytes], items: int = 0,
                     meta: str = "") -> list[int]:
        """Add payloads at the end of ``queue``, each with an item count and a short text
        the owner reads back without the payload; returns their sequence numbers."""

    async def pending(self, queue: str) -> list[tuple[int, int, int, str]]:
        """(sequence number, size, items, meta) of every payload in ``queue``, oldest
        first."""

    async def read(self, queue: str, seqs: Sequence[int]) -> dict[int, bytes]:
        """The payloads with these sequence numbers (missing ones are left out)."""

    async def remove(self, queue: str, seqs: Sequence[int],
                     state: Mapping[str, bytes | None] | None = None) -> None:
        """Delete payloads and, in the same transaction, set (None: delete) state keys."""

    async def load_state(self) -> dict[str, bytes]:
        """Every state key of this owner."""

    async def save_state(self, state: Mapping[str, bytes | None]) -> None: ...


@runtime_checkable
class Storage(Protocol):
    def client(self, owner: str) -> StorageClient: ...


@runtime_checkable
class SqlStorage(Storage, Protocol):
    """A storage whose SQLite database other components may keep tables in (the ledger)."""

    db: SqliteDB


__all__ = ["CAPABILITY", "SqlStorage", "SqliteDB", "Storage", "StorageClient", "StorageFull"]
