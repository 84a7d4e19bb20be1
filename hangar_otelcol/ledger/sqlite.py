"""The ledger in SQLite: survives restarts and is shared by every process that opens the
same file (the workers of one gateway, ``--workers N``).

Each ``note``/``claim`` batch is one operation of the database thread (``SqliteDB``), so
it is atomic against the other processes and shares a commit with everything else written
at the time. Entries older than ``ttl`` are deleted now and then.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence

from hangar_otelcol.mcp.claims import CallKey
from hangar_otelcol.storage.sqlite import SqliteDB

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ledger_reports (origin TEXT NOT NULL, trace BLOB NOT NULL, "
    "report BLOB NOT NULL, tool TEXT NOT NULL, at REAL NOT NULL, "
    "PRIMARY KEY (origin, trace, report)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS ledger_open (origin TEXT NOT NULL, trace BLOB NOT NULL, "
    "tool TEXT NOT NULL, open INTEGER NOT NULL, at REAL NOT NULL, "
    "PRIMARY KEY (origin, trace, tool)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS ledger_claims (origin TEXT NOT NULL, trace BLOB NOT NULL, "
    "report BLOB NOT NULL, covered INTEGER NOT NULL, at REAL NOT NULL, "
    "PRIMARY KEY (origin, trace, report)) WITHOUT ROWID",
)
#: seconds between deletions of expired entries
_EXPIRE_EVERY = 60.0


class SqliteLedger:
    def __init__(self, db: SqliteDB, ttl: float = 600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.ttl = ttl
        self._clock = clock
        self._expired_at = 0.0
        self._ready = False

    async def _prepare(self) -> None:
        if not self._ready:
            await self.db.run(_create)
            self._ready = True

    def _maybe_expire(self, conn: sqlite3.Connection, now: float) -> None:
        if now - self._expired_at < _EXPIRE_EVERY:
            return
        self._expired_at = now
        horizon = now - self.ttl
        for table in ("ledger_reports", "ledger_open", "ledger_claims"):
            conn.execute(f"DELETE FROM {table} WHERE at < ?", (horizon,))

    async def note(self, reports: Sequence[CallKey]) -> None:
        await self._prepare()
        now = self._clock()

        rows = [(key.origin, key.trace_id, key.report, key.tool) for key in reports]

        def op(conn: sqlite3.Connection) -> None:
            self._maybe_expire(conn, now)
            # set-based: the batch goes to a scratch table in one call, then one statement
            # counts the reports not seen before per call and one remembers them (a
            # statement per report cost ~10 us each, a quarter of a record's whole cost)
            conn.execute("DELETE FROM temp.ledger_batch")
            conn.executemany("INSERT OR IGNORE INTO temp.ledger_batch VALUES (?, ?, ?, ?)",
                             rows)
            conn.execute(
                "INSERT INTO ledger_open (origin, trace, tool, open, at) "
                "SELECT b.origin, b.trace, b.tool, count(*), ? FROM temp.ledger_batch b "
                "WHERE NOT EXISTS (SELECT 1 FROM ledger_reports r WHERE r.origin = b.origin "
                "AND r.trace = b.trace AND r.report = b.report) "
                "GROUP BY b.origin, b.trace, b.tool "
                "ON CONFLICT (origin, trace, tool) DO UPDATE SET open = open + excluded.open, "
                "at = excluded.at", (now,))
            conn.execute("INSERT OR IGNORE INTO ledger_reports "
                         "SELECT origin, trace, report, tool, ? FROM temp.ledger_batch", (now,))

        await self.db.run(op)

    async def claim(self, spans: Sequence[CallKey]) -> list[bool]:
        return await self._claim(spans, only_covered=False)

    async def claim_covered(self, spans: Sequence[CallKey]) -> list[bool]:
        return await self._claim(spans, only_covered=True)

    async def _claim(self, spans: Sequence[CallKey], only_covered: bool) -> list[bool]:
        await self._prepare()
        now = self._clock()

        def op(conn: sqlite3.Connection) -> list[bool]:
            answers = []
            for key in spans:
                row = conn.execute(
                    "SELECT covered FROM ledger_claims WHERE origin = ? AND trace = ? AND "
                    "report = ?", (key.origin, key.trace_id, key.report)).fetchone()
                if row is not None:  # asked before: the same answer
                    answers.append(bool(row[0]))
                    continue
                row = conn.execute(
                    "SELECT open FROM ledger_open WHERE origin = ? AND trace = ? AND tool = ?",
                    (key.origin, key.trace_id, key.tool)).fetchone()
                covered = bool(row and row[0] > 0)
                if not covered and only_covered:
                    answers.append(False)  # nothing decided: a record may still come
                    continue
                if covered:
                    conn.execute("UPDATE ledger_open SET open = open - 1 WHERE origin = ? AND "
                                 "trace = ? AND tool = ?", (key.origin, key.trace_id, key.tool))
                conn.execute("INSERT INTO ledger_claims VALUES (?, ?, ?, ?, ?)",
                             (key.origin, key.trace_id, key.report, int(covered), now))
                answers.append(covered)
            return answers

        return await self.db.run(op)

    async def reports(self) -> int:
        """How many reports are remembered (for the gauge and tests)."""
        await self._prepare()

        def op(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM ledger_reports").fetchone()[0])

        return await self.db.run(op)


def _create(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        conn.execute(statement)
    # per connection (temp tables are private to it): the reports of one note()
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS ledger_batch (origin TEXT, trace BLOB, "
                 "report BLOB, tool TEXT, PRIMARY KEY (origin, trace, report))")

