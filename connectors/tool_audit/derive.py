"""Span -> audit LogRecord, shaped like hangar 2.x's (docs/hangar-versions.md)."""

from __future__ import annotations

import re
import time
from typing import Any

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber

from hangar_otelcol.mcp import TOOL_EVENT, ToolInvocation
from hangar_otelcol.mcp.keys import AUDIT_SOURCE_SPAN

AUDIT_SCOPE = "mcp_hangar.audit"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,63}")
#: status-message prefixes hangar 1.6 writes on a failed batch.call span -> the
#: mcp.error.type its audit record would carry ("timeout: tools/call after 1.0s")
_MESSAGE_ERRORS = {"timeout": "TimeoutError"}
#: generic wrappers that say less than the status message does
_GENERIC_ERRORS = frozenset({"ToolInvocationError"})


def error_type(inv: ToolInvocation) -> str | None:
    """mcp.error.type for a failed call: the span's error type attribute, or the exception
    class / hangar error kind at the start of the status message, else "other"."""
    if inv.status != "error":
        return None
    message = inv.record.status.message if inv.is_span else ""
    head = message.split(":", 1)[0].strip() if ":" in message else ""
    from_message = _MESSAGE_ERRORS.get(head, head) if _IDENT.fullmatch(head or "-") else None
    if inv.error_type and (inv.error_type not in _GENERIC_ERRORS or not from_message):
        return inv.error_type
    return from_message or inv.error_type or "other"


def audit_record(inv: ToolInvocation, *, source_key: str, copy_prefixes: tuple[str, ...],
                 observed_unix_nano: int | None = None) -> LogRecord:
    """The audit record hangar would have written for the call this span describes."""
    span = inv.record
    observed = observed_unix_nano or time.time_ns()
    record = LogRecord(
        time_unix_nano=span.end_time_unix_nano or span.start_time_unix_nano or observed,
        observed_time_unix_nano=observed,
        severity_number=SeverityNumber.SEVERITY_NUMBER_INFO,
        severity_text="INFO",
        trace_id=span.trace_id,
        span_id=span.span_id,
    )
    record.body.string_value = TOOL_EVENT
    attrs = record.attributes

    def put(key: str, value: Any) -> None:
        if value is None:
            return  # hangar leaves None-valued attributes out
        kv = attrs.add(key=key)
        if isinstance(value, float):
            kv.value.double_value = value
        else:
            kv.value.string_value = str(value)

    put("mcp.event.name", TOOL_EVENT)
    put("mcp.server.id", inv.server)
    put("gen_ai.tool.name", inv.tool)
    put("mcp.tool.status", inv.status or "success")
    put("mcp.tool.duration_ms", float(inv.duration_ms) if inv.duration_ms is not None else None)
    put("mcp.error.type", error_type(inv))
    written = {kv.key for kv in attrs}
    if copy_prefixes:
        for kv in span.attributes:
            if kv.key not in written and kv.key.startswith(copy_prefixes):
                attrs.add().CopyFrom(kv)
                written.add(kv.key)
    attrs.add(key=source_key).value.string_value = AUDIT_SOURCE_SPAN
    return record
