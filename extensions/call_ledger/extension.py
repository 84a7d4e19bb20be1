"""The call_ledger extension: the count-once ledger, in memory or in a storage's database."""

from __future__ import annotations

from collections.abc import Sequence

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.extensions.call_ledger.config import CallLedgerConfig
from hangar_otelcol.ledger import Ledger
from hangar_otelcol.ledger.memory import MemoryLedger
from hangar_otelcol.ledger.sqlite import SqliteLedger
from hangar_otelcol.mcp.claims import CallKey
from hangar_otelcol.storage import SqlStorage


class CallLedgerExtension:
    def __init__(self, settings: CreateSettings, config: CallLedgerConfig) -> None:
        self.settings = settings
        self.config = config
        self._memory = MemoryLedger(ttl=float(config.ttl), max_entries=config.max_entries)
        self._impl: Ledger = self._memory
        settings.telemetry.gauge("otelcol_extension_call_ledger_reports",
                                 "Audit-record reports this process remembers (in memory)",
                                 lambda: float(len(self._memory)))

    async def start(self, host: Host) -> None:
        if self.config.storage:
            storage = host.extension(self.config.storage)
            if not isinstance(storage, SqlStorage):
                raise ValueError(f"storage: extension {self.config.storage!r} has no database "
                                 "for a ledger")
            self._impl = SqliteLedger(storage.db, ttl=float(self.config.ttl))

    async def shutdown(self) -> None:
        self._memory.clear()

    async def note(self, reports: Sequence[CallKey]) -> None:
        await self._impl.note(reports)

    async def claim(self, spans: Sequence[CallKey]) -> list[bool]:
        return await self._impl.claim(spans)

    async def claim_covered(self, spans: Sequence[CallKey]) -> list[bool]:
        return await self._impl.claim_covered(spans)
