"""Config of the ``call_ledger`` extension."""

from __future__ import annotations

from dataclasses import dataclass

from hangar_otelcol.config.types import Duration, StorageRef


@dataclass
class CallLedgerConfig:
    #: how long a reported call or a claim is remembered; longer than any delay between a
    #: call's span and its audit record (hangar's SDK flushes both every 5 s)
    ttl: Duration = Duration(600.0)
    #: most reported calls (and most claims) kept in memory; the oldest are forgotten first
    max_entries: int = 200_000
    #: a storage extension (``file_storage``): the ledger lives in its database, so it
    #: survives a restart and is shared by the workers of a gateway (``--workers``).
    #: Empty: in this process's memory.
    storage: StorageRef = StorageRef("")

    def validate(self) -> list[str]:
        errors = []
        if self.ttl <= 0:
            errors.append("ttl: must be greater than 0")
        if self.max_entries < 1:
            errors.append(f"max_entries: must be at least 1, got {self.max_entries}")
        return errors
