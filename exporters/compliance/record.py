"""The normalized compliance record every format is written from.

A ``ComplianceRecord`` is built either from a ``ToolInvocation`` view (the
gateway path) or from keyword arguments (``api.export_tool_invocation``), so the
four formatters never see OTLP and never walk attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hangar_otelcol.mcp import STATE_EVENT, ToolInvocation
from hangar_otelcol.mcp.ids import record_id

# hangar's record types and ids (docs/compliance-formats.md, "Record types")
REQUESTED = "ToolInvocationRequested"
COMPLETED = "ToolInvocationCompleted"
FAILED = "ToolInvocationFailed"
DENIED = "ToolInvocationDenied"
STATE_CHANGED = "McpServerStateChanged"

EVENT_IDS: dict[str, int] = {
    REQUESTED: 100, COMPLETED: 101, FAILED: 102, DENIED: 103, STATE_CHANGED: 202,
}
#: the short names used as keys of the severity mappings in the config
EVENT_KEYS: dict[str, str] = {
    REQUESTED: "requested", COMPLETED: "completed", FAILED: "failed", DENIED: "denied",
    STATE_CHANGED: "state_change",
}

_COMPLETED_STATUSES = frozenset({"success", "completed", "ok"})
_FAILED_STATUSES = frozenset({"error", "failure", "failed"})
_DENIED_STATUSES = frozenset({"denied", "refused"})


def event_type_for(status: str | None) -> str:
    """hangar's status -> record type mapping; unknown statuses are 'Requested' as in hangar."""
    if status is None:
        return REQUESTED
    s = status.lower()
    if s in _COMPLETED_STATUSES:
        return COMPLETED
    if s in _FAILED_STATUSES:
        return FAILED
    if s in _DENIED_STATUSES:
        return DENIED
    return REQUESTED


@dataclass(slots=True)
class ComplianceRecord:
    """One tool invocation or MCP server state change, format-independent.

    ``None`` means "absent" (the field is left out of every format); numbers stay
    numbers. ``time_unix_nano`` is the record's own time, never export time.
    """

    event_type: str
    time_unix_nano: int
    mcp_server_id: str | None = None
    tool_name: str | None = None
    status: str | None = None
    duration_ms: float | None = None
    error_type: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    caller_type: str | None = None
    caller_id: str | None = None
    caller_roles: str | None = None
    cost_cents: int | None = None
    cost_model: str | None = None
    cost_input_tokens: int | None = None
    cost_output_tokens: int | None = None
    trace_id: str | None = None  # lower-case hex, None when absent/all-zero
    span_id: str | None = None
    service_version: str | None = None
    #: stable id of the record (32 lower-case hex digits; hangar_otelcol.mcp.ids); None for
    #: records made through the API without one
    record_id: str | None = None

    @property
    def event_id(self) -> int:
        return EVENT_IDS[self.event_type]

    @property
    def is_state_change(self) -> bool:
        return self.event_type == STATE_CHANGED


_ZERO_IDS = frozenset({bytes(8), bytes(16)})


def hex_id(raw: bytes) -> str | None:
    """OTLP id bytes as lower-case hex; empty, wrong-length or all-zero ids are absent."""
    if len(raw) not in (8, 16) or raw in _ZERO_IDS:
        return None
    return raw.hex()


def clean_number(value: Any) -> float | None:
    """A finite float or None (NaN/inf have no spelling in JSON, CEF or LEEF)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _positive(value: int) -> int | None:
    # hangar omits token counts of 0 (they mean "unknown"), so do we
    return value if value else None


def from_invocation(inv: ToolInvocation) -> ComplianceRecord:
    """The record for one ``ToolInvocation`` view (tool call or state change)."""
    if inv.event == STATE_EVENT:
        event_type = STATE_CHANGED
        status = None
        tool = None
        duration = None
    else:
        event_type = event_type_for(inv.status)
        status = inv.status
        tool = inv.tool
        duration = clean_number(inv.duration_ms)
    # positional: this runs once per record, and keyword passing costs ~1 us here
    return ComplianceRecord(
        event_type, int(inv.time_unix_nano), inv.server, tool, status, duration,
        inv.error_type, inv.from_state, inv.to_state, inv.caller_type, inv.caller_id,
        inv.caller_roles, inv.cost_cents, inv.cost_model, _positive(inv.input_tokens),
        _positive(inv.output_tokens), hex_id(inv.trace_id), hex_id(inv.span_id),
        inv.service_version or None, record_id(inv).hex())
