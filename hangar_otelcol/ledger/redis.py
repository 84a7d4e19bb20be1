"""The ledger in Redis: one count-once state for every replica of a gateway.

Why: replicas behind an L4 balancer (a Kubernetes Service, HAProxy) get a call's span on
one replica and its audit record on another, because hangar's SDK sends the two signals on
separate connections. Each replica's own ledger would then see half of the pair, and the
replica holding the span would derive a second record. With the ledger in one Redis (or
Valkey) the replica holding the span finds the record another replica noted
(docs/scale-out.md).

Each ``note``/``claim`` batch is one Lua script, so a claim's read-and-decrement is atomic
against every other replica; entries expire after ``ttl`` (Redis ``PX``). The scripts
touch many keys, so a single primary (standalone, Sentinel or a managed Redis) is needed;
Redis Cluster is not supported.

Keys (under ``key_prefix``; trace and span ids in hex, the origin last so that any
characters are unambiguous; the tool length-prefixed):

- ``r:<trace>:<report>:<origin>``: an audit record noted (its own span id);
- ``o:<trace>:<len>:<tool><origin>``: how many noted records of a call no span claimed;
- ``c:<trace>:<report>:<origin>``: a span's claim and its answer (1 covered, 0 not).

A Redis that cannot be reached raises ``LedgerUnavailable``, a retryable refusal: the
sender of an audit record retries it, a held span is asked about again later; nothing is
guessed (docs/scale-out.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hangar_otelcol.component import ConsumerError
from hangar_otelcol.mcp.claims import CallKey

#: at most this many calls per script: a script blocks the Redis server while it runs
_CHUNK = 1000

# KEYS = r1, o1, r2, o2, ...; ARGV[1] = ttl in ms. A record seen before changes nothing.
_NOTE = """
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ttl) then
    redis.call('INCR', KEYS[i + 1])
    redis.call('PEXPIRE', KEYS[i + 1], ttl)
  end
end
return #KEYS / 2
"""

# KEYS = c1, o1, c2, o2, ...; ARGV[1] = ttl in ms, ARGV[2] = 1: only claim covered calls.
# Returns one 0/1 per span: asked before -> the same answer.
_CLAIM = """
local ttl = tonumber(ARGV[1])
local only_covered = ARGV[2] == '1'
local answers = {}
for i = 1, #KEYS, 2 do
  local previous = redis.call('GET', KEYS[i])
  if previous then
    answers[#answers + 1] = tonumber(previous)
  else
    local open = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
    if open > 0 then
      redis.call('DECR', KEYS[i + 1])
      redis.call('SET', KEYS[i], '1', 'PX', ttl)
      answers[#answers + 1] = 1
    elseif only_covered then
      answers[#answers + 1] = 0
    else
      redis.call('SET', KEYS[i], '0', 'PX', ttl)
      answers[#answers + 1] = 0
    end
  end
end
return answers
"""


class LedgerUnavailable(ConsumerError):
    """The shared ledger cannot be asked now: retry later, decide nothing meanwhile."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=1.0)


class RedisLedger:
    def __init__(self, client: Redis, *, ttl: float = 600.0,
                 key_prefix: str = "hangar-otelcol:ledger:") -> None:
        self.client = client
        self.ttl_ms = max(1, int(ttl * 1000))
        self.prefix = key_prefix
        self._note = client.register_script(_NOTE)
        self._claim = client.register_script(_CLAIM)

    # -- keys -------------------------------------------------------------------------------

    def report_key(self, key: CallKey) -> str:
        return f"{self.prefix}r:{key.trace_id.hex()}:{key.report.hex()}:{key.origin}"

    def open_key(self, key: CallKey) -> str:
        return f"{self.prefix}o:{key.trace_id.hex()}:{len(key.tool)}:{key.tool}{key.origin}"

    def claim_key(self, key: CallKey) -> str:
        return f"{self.prefix}c:{key.trace_id.hex()}:{key.report.hex()}:{key.origin}"

    # -- the Ledger protocol ----------------------------------------------------------------

    async def note(self, reports: Sequence[CallKey]) -> None:
        for start in range(0, len(reports), _CHUNK):
            keys: list[str] = []
            for key in reports[start:start + _CHUNK]:
                keys += (self.report_key(key), self.open_key(key))
            await self._run(self._note, keys, [self.ttl_ms])

    async def claim(self, spans: Sequence[CallKey]) -> list[bool]:
        return await self._claims(spans, only_covered=False)

    async def claim_covered(self, spans: Sequence[CallKey]) -> list[bool]:
        return await self._claims(spans, only_covered=True)

    async def _claims(self, spans: Sequence[CallKey], *, only_covered: bool) -> list[bool]:
        answers: list[bool] = []
        for start in range(0, len(spans), _CHUNK):
            keys: list[str] = []
            for key in spans[start:start + _CHUNK]:
                keys += (self.claim_key(key), self.open_key(key))
            got = await self._run(self._claim, keys, [self.ttl_ms, int(only_covered)])
            answers += (bool(int(a)) for a in got)
        return answers

    async def _run(self, script: Any, keys: list[str], args: list[int]) -> Any:
        return await _guarded(script(keys=keys, args=args))

    async def ping(self) -> None:
        await _guarded(self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()


async def _guarded(operation: Awaitable[Any]) -> Any:
    try:
        return await operation
    except (RedisError, OSError) as exc:
        raise LedgerUnavailable(f"the shared ledger (Redis) is unavailable: "
                                f"{type(exc).__name__}: {exc}") from exc
