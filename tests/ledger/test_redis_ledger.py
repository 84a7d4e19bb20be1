"""The ledger in a real Redis: the same answers as the in-process one, shared by the
ledgers of several replicas (each its own client), atomic under concurrent claims, kept
apart by key prefix, expiring, and a retryable refusal (never a guess) while Redis is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from hangar_otelcol.extensions.call_ledger.config import RedisLedgerConfig
from hangar_otelcol.extensions.call_ledger.extension import redis_client
from hangar_otelcol.ledger.memory import MemoryLedger
from hangar_otelcol.ledger.redis import LedgerUnavailable, RedisLedger
from hangar_otelcol.mcp.claims import CallKey
from tests.ledger.test_sqlite_ledger import calls
from tests.support.redis import REDIS_SERVER, SKIP_REASON, RedisServer

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=SKIP_REASON)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
async def clients(server: RedisServer) -> AsyncIterator[list[Redis]]:
    """Three clients of one Redis: the ledgers of three replicas."""
    made = [redis_client(RedisLedgerConfig(endpoint=server.endpoint)) for _ in range(3)]
    yield made
    for client in made:
        await client.aclose()


@pytest.mark.parametrize("version", ["1.1.0", "1.6.3", "2.34.4"])
async def test_same_answers_as_the_in_process_ledger(clients: list[Redis], version: str
                                                     ) -> None:
    noted, spans = calls(version)
    memory, shared = MemoryLedger(), RedisLedger(clients[0])
    for ledger in (memory, shared):
        await ledger.note(noted)
        await ledger.note(noted)  # the same records again: nothing changes
    assert await memory.claim_covered(spans) == await shared.claim_covered(spans)
    assert await memory.claim(spans) == await shared.claim(spans)
    assert await memory.claim(spans) == await shared.claim(spans)  # asked again: same answer


async def test_a_record_noted_on_one_replica_covers_the_span_on_another(
        clients: list[Redis]) -> None:
    noted, spans = calls("2.34.4")
    a, b, c = (RedisLedger(client) for client in clients)
    await a.note(noted)
    assert all(await b.claim(spans))
    assert all(await c.claim(spans))  # the same spans again elsewhere: the same answer
    extra = [s._replace(report=b"\x09" * 8) for s in spans]  # more spans than records
    assert not any(await c.claim(extra))


async def test_concurrent_claims_of_one_call_cover_it_once(clients: list[Redis]) -> None:
    """One audit record, and three different spans of its call claimed at the same moment
    on three replicas: exactly one of them is covered."""
    record = calls("2.34.4")[0][0]
    await RedisLedger(clients[0]).note([record])
    rivals = [CallKey(record.origin, record.trace_id, record.tool, bytes([n]) * 8)
              for n in range(1, 4)]
    answers = await asyncio.gather(*(RedisLedger(client).claim([span])
                                     for client, span in zip(clients, rivals, strict=True)))
    assert sorted(a[0] for a in answers) == [False, False, True]


async def test_key_prefixes_keep_two_gateways_apart(clients: list[Redis]) -> None:
    noted, spans = calls("2.34.4")
    await RedisLedger(clients[0], key_prefix="team-a:").note(noted)
    assert not any(await RedisLedger(clients[1], key_prefix="team-b:").claim_covered(spans))
    assert all(await RedisLedger(clients[2], key_prefix="team-a:").claim(spans))


async def test_entries_expire(clients: list[Redis]) -> None:
    noted, spans = calls("2.34.4")
    ledger = RedisLedger(clients[0], ttl=0.2)
    await ledger.note(noted)
    await asyncio.sleep(0.5)
    assert not any(await ledger.claim(spans))
    assert await clients[0].dbsize() == len(spans)  # only the claims just made remain


async def test_redis_down_is_a_retryable_refusal_then_it_works_again(
        server: RedisServer, clients: list[Redis]) -> None:
    noted, spans = calls("2.34.4")
    ledger = RedisLedger(clients[0])
    await ledger.note(noted[:1])
    server.stop()
    for operation in (ledger.note(noted), ledger.claim(spans), ledger.ping()):
        with pytest.raises(LedgerUnavailable) as caught:
            await operation
        assert not caught.value.permanent and caught.value.retry_after
        assert "Redis" in str(caught.value)
    server.start()  # a fresh Redis (no persistence): what was noted before is gone
    await ledger.note(noted)
    assert all(await ledger.claim(spans))
