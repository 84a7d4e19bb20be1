"""SQLite from asyncio: one connection in one thread, with group commit.

Every operation is a function run on the connection in the database's own thread. The
thread takes every operation that is waiting, runs each in a savepoint of one transaction
(a failing operation is rolled back alone) and commits once, so many small writes from
many tasks share one commit and, with ``fsync``, one fsync. The caller's future resolves
after the commit: what an operation wrote is durable when it returns.

WAL mode: readers never block the writer, a commit appends to the log, and a commit
survives the process being killed at any point. ``fsync=True`` (``synchronous=FULL``) also
makes it survive a power loss or an OS crash, at the cost of an fsync per group commit
(docs/durability.md has the measured cost). Several processes may share one file (the
workers of one gateway): SQLite serializes their writers, ``busy_timeout`` waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from hangar_otelcol.component import ConsumerError

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]

#: at most this many operations share one transaction
_GROUP = 512


class StorageFull(ConsumerError):
    """The database reached its size limit or the disk is full (SQLITE_FULL).

    A retryable refusal wherever it reaches a pipeline: new data waits at its sender until
    what is stored drains (docs/durability.md), nothing stored is dropped for it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=1.0)


class _Op:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, fn: Operation, loop: asyncio.AbstractEventLoop,
                 future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.loop = loop
        self.future = future


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.OperationalError) and (
            "full" in str(exc).lower() or getattr(exc, "sqlite_errorcode", 0) == 13):
        return StorageFull(f"the storage is full ({exc}); refusing new data until it drains")
    return exc


class SqliteDB:
    def __init__(self, path: str, *, fsync: bool = False, max_bytes: int = 0,
                 busy_timeout: float = 30.0,
                 schema: tuple[str, ...] = ()) -> None:
        self.path = path
        self.fsync = fsync
        self.max_bytes = max_bytes
        self.busy_timeout = busy_timeout
        self.schema = schema
        self._ops: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self.commits = 0
        #: the largest number of operations one transaction committed (for tests)
        self.grouped = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._main, args=(loop, ready),
                                        name=f"sqlite:{self.path}", daemon=True)
        self._thread.start()
        await ready

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._ops.put(None)
        await asyncio.to_thread(thread.join)

    # -- operations -------------------------------------------------------------------------

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in the database thread, inside a transaction; returns its
        result once the transaction committed. Raises StorageFull when out of space."""
        if self._thread is None:
            raise RuntimeError(f"database {self.path} is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ops.put(_Op(fn, loop, future))
        return await future

    # -- the database thread ----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        # 16 KiB pages: a 100-200 KB queued request spans a few pages, not fifty
        # (measured: insert and delete ~1.2 ms each against ~2 ms with 4 KiB pages)
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        if self.max_bytes:
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={max(16, self.max_bytes // page)}")
        for statement in self.schema:
            conn.execute(statement)
        return conn

    def _main(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported to open(), which raises it
            loop.call_soon_threadsafe(_resolve, ready, None, exc)
            return
        self._conn = conn
        loop.call_soon_threadsafe(_resolve, ready, None, None)
        try:
            while True:
                first = self._ops.get()
                if first is None:
                    return
                ops = [first]
                stop = False
                while len(ops) < _GROUP:
                    try:
                        nxt = self._ops.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    ops.append(nxt)
                self._transaction(conn, ops)
                if stop:
                    return
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _transaction(self, conn: sqlite3.Connection, ops: list[_Op]) -> None:
        results: list[tuple[_Op, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            error = _translate(exc)
            for op in ops:
                op.loop.call_soon_threadsafe(_resolve, op.future, None, error)
            return
        for op in ops:
            try:
                conn.execute("SAVEPOINT op")
                result = op.fn(conn)
                conn.execute("RELEASE op")
                results.append((op, result, None))
            except BaseException as exc:
                error = _translate(exc)
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back (SQLITE_FULL does): every
                    # operation of the group failed
                    for other in ops:
                        other.loop.call_soon_threadsafe(_resolve, other.future, None, error)
                    return
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                results.append((op, None, error))
        self.grouped = max(self.grouped, len(ops))
        try:
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            error = _translate(exc)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            results = [(op, None, error) for op, _, _ in results]
        for op, result, err in results:
            op.loop.call_soon_threadsafe(_resolve, op.future, result, err)
