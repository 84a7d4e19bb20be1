"""The call_ledger extension: the count-once ledger, in memory, in a storage's database
or in a Redis that several replicas share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.extensions.call_ledger.config import CallLedgerConfig, RedisLedgerConfig
from hangar_otelcol.ledger import Ledger
from hangar_otelcol.ledger.memory import MemoryLedger
from hangar_otelcol.ledger.redis import LedgerUnavailable, RedisLedger
from hangar_otelcol.ledger.sqlite import SqliteLedger
from hangar_otelcol.mcp.claims import CallKey
from hangar_otelcol.storage import SqlStorage


class CallLedgerExtension:
    def __init__(self, settings: CreateSettings, config: CallLedgerConfig) -> None:
        self.settings = settings
        self.config = config
        self._memory = MemoryLedger(ttl=float(config.ttl), max_entries=config.max_entries)
        self._impl: Ledger = self._memory
        self._redis: RedisLedger | None = None
        settings.telemetry.gauge("otelcol_extension_call_ledger_reports",
                                 "Audit-record reports this process remembers (in memory)",
                                 lambda: float(len(self._memory)))

    async def start(self, host: Host) -> None:
        if self.config.redis.endpoint.strip():
            self._redis = RedisLedger(redis_client(self.config.redis), ttl=float(self.config.ttl),
                                      key_prefix=self.config.redis.key_prefix)
            self._impl = self._redis
            try:
                await self._redis.ping()
            except LedgerUnavailable as exc:
                # not fatal: a replica may start before its Redis; meanwhile every request
                # that needs the ledger is refused retryably, and its sender retries
                self.settings.problems.warn("unavailable", "%s: %s; audit records and held "
                                            "spans wait until it answers", self.settings.id,
                                            exc, detail="start")
        elif self.config.storage:
            storage = host.extension(self.config.storage)
            if not isinstance(storage, SqlStorage):
                raise ValueError(f"storage: extension {self.config.storage!r} has no database "
                                 "for a ledger")
            self._impl = SqliteLedger(storage.db, ttl=float(self.config.ttl))

    async def shutdown(self) -> None:
        self._memory.clear()
        if self._redis is not None:
            await self._redis.close()

    async def note(self, reports: Sequence[CallKey]) -> None:
        await self._impl.note(reports)

    async def claim(self, spans: Sequence[CallKey]) -> list[bool]:
        return await self._impl.claim(spans)

    async def claim_covered(self, spans: Sequence[CallKey]) -> list[bool]:
        return await self._impl.claim_covered(spans)


def redis_client(config: RedisLedgerConfig) -> Redis:
    """A redis-py asyncio client for ``config`` (connects on first use)."""
    host, port = config.host_port()
    timeout = float(config.timeout)
    kwargs: dict[str, Any] = {}
    if config.uses_tls:
        kwargs["ssl"] = True
        kwargs["ssl_ca_certs"] = config.tls.ca_file or None
        kwargs["ssl_certfile"] = config.tls.cert_file or None
        kwargs["ssl_keyfile"] = config.tls.key_file or None
        if config.tls.insecure_skip_verify:
            kwargs["ssl_cert_reqs"] = "none"
            kwargs["ssl_check_hostname"] = False
    return Redis(host=host, port=port, db=config.db, username=config.username or None,
                 password=config.password or None, socket_timeout=timeout,
                 socket_connect_timeout=timeout, **kwargs)
