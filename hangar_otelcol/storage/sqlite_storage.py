"""``Storage`` on one SQLite database (``SqliteDB``): the file_storage extension's engine."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from hangar_otelcol.storage.sqlite import SqliteDB

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS queue_items (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "queue TEXT NOT NULL, size INTEGER NOT NULL, items INTEGER NOT NULL, meta TEXT NOT NULL, "
    "data BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS queue_items_by_queue ON queue_items (queue, seq)",
    "CREATE TABLE IF NOT EXISTS state (owner TEXT NOT NULL, key TEXT NOT NULL, "
    "value BLOB NOT NULL, PRIMARY KEY (owner, key))",
)


class SqliteStorage:
    def __init__(self, db: SqliteDB) -> None:
        self.db = db

    def client(self, owner: str) -> SqliteClient:
        return SqliteClient(self.db, owner)


class SqliteClient:
    def __init__(self, db: SqliteDB, owner: str) -> None:
        self._db = db
        self.owner = owner

    def _queue(self, queue: str) -> str:
        return f"{self.owner}/{queue}"

    async def append(self, queue: str, payloads: Sequence[bytes], items: int = 0,
                     meta: str = "") -> list[int]:
        name = self._queue(queue)

        def op(conn: sqlite3.Connection) -> list[int]:
            seqs = []
            for data in payloads:
                cur = conn.execute("INSERT INTO queue_items (queue, size, items, meta, data) "
                                   "VALUES (?, ?, ?, ?, ?)", (name, len(data), items, meta, data))
                seqs.append(int(cur.lastrowid or 0))
            return seqs

        return await self._db.run(op)

    async def pending(self, queue: str) -> list[tuple[int, int, int, str]]:
        name = self._queue(queue)

        def op(conn: sqlite3.Connection) -> list[tuple[int, int, int, str]]:
            rows = conn.execute("SELECT seq, size, items, meta FROM queue_items "
                                "WHERE queue = ? ORDER BY seq", (name,))
            return [(int(s), int(n), int(i), str(m)) for s, n, i, m in rows]

        return await self._db.run(op)

    async def read(self, queue: str, seqs: Sequence[int]) -> dict[int, bytes]:
        name = self._queue(queue)

        def op(conn: sqlite3.Connection) -> dict[int, bytes]:
            out: dict[int, bytes] = {}
            for seq in seqs:
                row = conn.execute("SELECT data FROM queue_items WHERE seq = ? AND queue = ?",
                                   (seq, name)).fetchone()
                if row is not None:
                    out[seq] = bytes(row[0])
            return out

        return await self._db.run(op)

    async def remove(self, queue: str, seqs: Sequence[int],
                     state: Mapping[str, bytes | None] | None = None) -> None:
        name = self._queue(queue)
        owner = self.owner

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM queue_items WHERE seq = ? AND queue = ?",
                             [(seq, name) for seq in seqs])
            if state:
                _write_state(conn, owner, state)

        await self._db.run(op)

    async def load_state(self) -> dict[str, bytes]:
        owner = self.owner

        def op(conn: sqlite3.Connection) -> dict[str, bytes]:
            rows = conn.execute("SELECT key, value FROM state WHERE owner = ?", (owner,))
            return {str(k): bytes(v) for k, v in rows}

        return await self._db.run(op)

    async def save_state(self, state: Mapping[str, bytes | None]) -> None:
        owner = self.owner
        await self._db.run(lambda conn: _write_state(conn, owner, state))


def _write_state(conn: sqlite3.Connection, owner: str, state: Mapping[str, bytes | None]
                 ) -> None:
    for key, value in state.items():
        if value is None:
            conn.execute("DELETE FROM state WHERE owner = ? AND key = ?", (owner, key))
        else:
            conn.execute("INSERT INTO state (owner, key, value) VALUES (?, ?, ?) "
                         "ON CONFLICT (owner, key) DO UPDATE SET value = excluded.value",
                         (owner, key, value))
