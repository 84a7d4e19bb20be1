"""The in-process ledger as an extension (its state lives as long as the service)."""

from __future__ import annotations

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.extensions.call_ledger.config import CallLedgerConfig
from hangar_otelcol.ledger.memory import MemoryLedger


class CallLedgerExtension(MemoryLedger):
    def __init__(self, settings: CreateSettings, config: CallLedgerConfig) -> None:
        super().__init__(ttl=float(config.ttl), max_entries=config.max_entries)
        self.settings = settings
        settings.telemetry.gauge("otelcol_extension_call_ledger_reports",
                                 "Audit-record reports remembered by the ledger",
                                 lambda: float(len(self)))

    async def start(self, host: Host) -> None:
        pass

    async def shutdown(self) -> None:
        self.clear()
