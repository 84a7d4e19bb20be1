"""A Python API for programs that embed the formatters (no gateway, no event loop).

    from hangar_otelcol.exporters.compliance.api import export_tool_invocation
    line = export_tool_invocation(
        format="leef", output="/var/log/mcp/leef.log",
        mcp_server_id="math", tool_name="add", status="success", duration_ms=12,
        caller_type="human", caller_id="alice", caller_roles=["admin"],
        cost_cents=25, cost_model="fixed", cost_input_tokens=0, cost_output_tokens=0)

``output``: None (stderr), "stdout", a file path (appended, one write per line),
or any object with ``write()`` (text or binary). The formatted line (without
the newline) is returned. ``Compliance`` keeps the formatter for repeated calls.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import time
from collections.abc import Iterable
from typing import Any

from .formats import formatter_for
from .formats.common import utf8
from .formats.options import FormatOptions
from .record import STATE_CHANGED, ComplianceRecord, clean_number, event_type_for


def _time_ns(timestamp: dt.datetime | float | int | None) -> int:
    if timestamp is None:
        return time.time_ns()
    if isinstance(timestamp, dt.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.UTC)
        delta = timestamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(timestamp, int) and timestamp > 10**15:
        return timestamp  # already nanoseconds
    return int(float(timestamp) * 1_000_000_000)


def _roles(value: str | Iterable[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def _opt_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    return int(value)


class Compliance:
    """A formatter bound to an output, for repeated ``export_*`` calls."""

    def __init__(self, format: str = "jsonlines", output: Any = None,
                 options: FormatOptions | None = None, **option_fields: Any) -> None:
        if options is None:
            options = FormatOptions(**option_fields)
        self.formatter: Any = formatter_for(format, options)
        self.output = output

    def record_tool_invocation(
        self, *, mcp_server_id: str | None = None, tool_name: str | None = None,
        status: str | None = "success", duration_ms: float | None = None,
        error_type: str | None = None, caller_type: str | None = None,
        caller_id: str | None = None, caller_roles: str | Iterable[str] | None = None,
        cost_cents: int | None = None, cost_model: str | None = None,
        cost_input_tokens: int | None = None, cost_output_tokens: int | None = None,
        timestamp: dt.datetime | float | int | None = None, trace_id: str | None = None,
        span_id: str | None = None, service_version: str | None = None,
        event_type: str | None = None,
    ) -> ComplianceRecord:
        return ComplianceRecord(
            event_type=event_type or event_type_for(status), time_unix_nano=_time_ns(timestamp),
            mcp_server_id=mcp_server_id, tool_name=tool_name, status=status,
            duration_ms=clean_number(duration_ms), error_type=error_type,
            caller_type=caller_type, caller_id=caller_id, caller_roles=_roles(caller_roles),
            cost_cents=_opt_int(cost_cents), cost_model=cost_model,
            cost_input_tokens=_opt_int(cost_input_tokens),
            cost_output_tokens=_opt_int(cost_output_tokens),
            trace_id=trace_id or None, span_id=span_id or None, service_version=service_version)

    def export_tool_invocation(self, **fields: Any) -> str:
        """Format (and write) one tool invocation; returns the line."""
        return self.write(self.record_tool_invocation(**fields))

    def export_state_change(self, *, mcp_server_id: str, from_state: str | None,
                            to_state: str | None,
                            timestamp: dt.datetime | float | int | None = None,
                            service_version: str | None = None) -> str:
        record = ComplianceRecord(event_type=STATE_CHANGED, time_unix_nano=_time_ns(timestamp),
                                  mcp_server_id=mcp_server_id, from_state=from_state,
                                  to_state=to_state, service_version=service_version)
        return self.write(record)

    def format(self, record: ComplianceRecord) -> str:
        return str(self.formatter.format(record))

    def write(self, record: ComplianceRecord) -> str:
        line = self.format(record)
        _write_line(self.output, line)
        return line


def _write_line(output: Any, line: str) -> None:
    data = utf8(line) + b"\n"
    if output is None or output == "stderr":
        stream: Any = sys.stderr
    elif output == "stdout":
        stream = sys.stdout
    elif isinstance(output, str):
        with open(output, "ab") as f:  # append, one write per line, as hangar does
            f.write(data)
        return
    else:
        stream = output
    if isinstance(stream, (io.RawIOBase, io.BufferedIOBase)) or "b" in getattr(stream, "mode", ""):
        stream.write(data)
    else:
        stream.write(data.decode("utf-8"))
    stream.flush()


def export_tool_invocation(*, format: str = "jsonlines", output: Any = None,
                           options: FormatOptions | None = None, **fields: Any) -> str:
    """Format one tool invocation in ``format`` and write it to ``output``; returns the line.

    Keyword fields: mcp_server_id, tool_name, status, duration_ms, error_type,
    caller_type, caller_id, caller_roles (str or list), cost_cents, cost_model,
    cost_input_tokens, cost_output_tokens, timestamp (datetime, epoch seconds or ns;
    default now), trace_id, span_id, service_version, event_type.
    """
    return Compliance(format, output, options).export_tool_invocation(**fields)
