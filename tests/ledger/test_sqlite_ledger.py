"""The ledger in SQLite: the same answers as the in-process one, after a restart too, and
shared by two processes' ledgers on one file (the workers of a gateway)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hangar_otelcol.ledger.counting import counted_spans, reports
from hangar_otelcol.ledger.memory import MemoryLedger
from hangar_otelcol.ledger.sqlite import SqliteLedger
from hangar_otelcol.mcp import call_key, index
from hangar_otelcol.storage.sqlite import SqliteDB
from tests.support import captures as hc


async def opened(path: Path) -> SqliteDB:
    db = SqliteDB(str(path))
    await db.open()
    return db


def calls(version: str) -> tuple[list, list]:
    parts = hc.load(version)
    noted = [k for p in parts for k in reports(index(p))]
    spans = [call_key(s) for p in parts for s in counted_spans(index(p))]
    return noted, spans


@pytest.mark.parametrize("version", ["1.1.0", "1.6.3", "2.34.4"])
async def test_same_answers_as_the_in_process_ledger(tmp_path: Path, version: str) -> None:
    noted, spans = calls(version)
    memory = MemoryLedger()
    db = await opened(tmp_path / "l.db")
    sql = SqliteLedger(db)
    for ledger in (memory, sql):
        await ledger.note(noted)
        await ledger.note(noted)  # the same records again: nothing changes
    first = await memory.claim_covered(spans), await sql.claim_covered(spans)
    assert first[0] == first[1]
    assert await memory.claim(spans) == await sql.claim(spans)
    assert await memory.claim(spans) == await sql.claim(spans)  # asked again: same answer
    await db.close()


async def test_notes_and_claims_survive_a_restart(tmp_path: Path) -> None:
    noted, spans = calls("2.34.4")
    db = await opened(tmp_path / "l.db")
    await SqliteLedger(db).note(noted)
    await db.close()
    db = await opened(tmp_path / "l.db")  # a new process on the same file
    assert all(await SqliteLedger(db).claim(spans))
    await db.close()


async def test_two_processes_share_one_ledger(tmp_path: Path) -> None:
    """Worker A sees the audit records, worker B the spans: each call is covered once."""
    noted, spans = calls("2.34.4")
    a, b = await opened(tmp_path / "l.db"), await opened(tmp_path / "l.db")
    await SqliteLedger(a).note(noted)
    answers = await asyncio.gather(SqliteLedger(b).claim(spans),
                                   SqliteLedger(a).claim(spans))
    assert all(answers[0]) and answers[0] == answers[1]
    extra = [s._replace(report=b"\x09" * 8) for s in spans]  # more spans than records
    assert not any(await SqliteLedger(b).claim(extra))
    await a.close()
    await b.close()


async def test_entries_expire(tmp_path: Path) -> None:
    noted, spans = calls("2.34.4")
    now = [1000.0]
    db = await opened(tmp_path / "l.db")
    ledger = SqliteLedger(db, ttl=10.0, clock=lambda: now[0])
    await ledger.note(noted)
    assert await ledger.reports() == 6
    now[0] += 100.0
    await ledger.note([])  # expiry runs with the next operation
    assert await ledger.reports() == 0
    assert not any(await ledger.claim(spans))
    await db.close()
