"""Config of the tool_audit connector (traces in, logs out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hangar_otelcol.config.types import Duration, LedgerRef, StorageRef
from hangar_otelcol.mcp import InvocationKeys

_7S = Duration(7.0)
_1S = Duration(1.0)


@dataclass
class ToolAuditConfig:
    #: what makes a span a tool invocation (shared with every invocation reader)
    invocations: InvocationKeys = field(default_factory=InvocationKeys)
    #: the count-once ledger (an extension id such as ``call_ledger``); empty: the
    #: service's in-process one. Audit records are noted in it, spans claim from it.
    ledger: LedgerRef = LedgerRef("")
    #: a storage extension (``file_storage``): held spans are written to it before their
    #: senders are answered, so a crash during the hold loses no call
    storage: StorageRef = StorageRef("")
    #: how long a span waits for a real audit record of the same call before an audit record
    #: is derived from it. Hangar's SDK flushes spans and logs independently every 5 s, so
    #: the real record (2.x) can arrive up to ~5 s after the span. 0 derives at once (only
    #: safe when no sender also sends audit logs).
    hold: Duration = _7S
    #: skip spans whose call a real audit log record already reported (hangar 2.x sends both)
    dedupe_with_audit_logs: bool = True
    #: span attributes copied onto the derived record (prefix match), besides the audit keys
    copy_attribute_prefixes: list[str] = field(default_factory=lambda: [
        "mcp.caller.", "mcp.cost.", "mcp.user.", "mcp.session.", "mcp.correlation_id",
        "gen_ai.usage.", "hangar.route.backend",
    ])
    #: at most this many spans wait; beyond it the oldest are decided early
    max_held: int = 100_000
    #: wait this long before offering refused (retryable) records again
    retry_interval: Duration = _1S

    def validate(self) -> list[str]:
        errors: list[str] = []
        if self.max_held < 1:
            errors.append(f"max_held: must be at least 1; got {self.max_held}")
        if self.hold > 600:
            errors.append("hold: must be at most 10m (spans are kept in memory meanwhile)")
        return errors
