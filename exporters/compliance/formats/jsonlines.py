"""JSON-lines: one compact UTF-8 JSON object per line (docs/compliance-formats.md).

Key order follows the seed: timestamp, event_type, mcp_server_id, tool_name,
status, duration_ms, then the optional fields. Absent fields are left out;
empty strings are kept (the JSON line is the lossless record).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..record import ComplianceRecord
from .common import IsoTime, fix_surrogates, json_number
from .options import FormatOptions

_LS = "\u2028".encode()
_PS = "\u2029".encode()


class JsonLinesFormatter:
    name = "jsonlines"
    #: finds the record ids in written lines (group 1), to tell a repeat after a restart
    RECORD_ID = re.compile(rb'"record_id":"([0-9a-f]{32})"')
    #: an RFC 5424 envelope may put a BOM in front (JSON is free-text UTF-8)
    envelope_bom = True

    def __init__(self, options: FormatOptions | None = None) -> None:
        self.options = options or FormatOptions()
        self._time = IsoTime("+00:00")

    def format_line(self, r: ComplianceRecord) -> bytes:
        """The record as one LF-terminated line (files and streams)."""
        # a right-sized copy: orjson's result keeps its whole 4 KiB buffer (orjson 3.13),
        # and lines wait in memory until written (a 16k-record batch held 64 MiB)
        return bytes(memoryview(self.format_bytes(r, orjson.OPT_APPEND_NEWLINE)))

    def format_bytes(self, r: ComplianceRecord, option: int = 0) -> bytes:
        d: dict[str, Any] = {"timestamp": self._time(r.time_unix_nano),
                             "event_type": r.event_type}
        if r.mcp_server_id is not None:
            d["mcp_server_id"] = r.mcp_server_id
        if r.tool_name is not None:
            d["tool_name"] = r.tool_name
        if r.status is not None:
            d["status"] = r.status
        if r.duration_ms is not None:
            d["duration_ms"] = json_number(r.duration_ms)
        if r.error_type is not None:
            d["error_type"] = r.error_type
        if r.from_state is not None:
            d["from_state"] = r.from_state
        if r.to_state is not None:
            d["to_state"] = r.to_state
        if r.caller_type is not None:
            d["caller_type"] = r.caller_type
        if r.caller_id is not None:
            d["caller_id"] = r.caller_id
        if r.caller_roles is not None:
            d["caller_roles"] = r.caller_roles
        if r.cost_cents is not None:
            d["cost_cents"] = r.cost_cents
        if r.cost_model is not None:
            d["cost_model"] = r.cost_model
        if r.cost_input_tokens is not None:
            d["cost_input_tokens"] = r.cost_input_tokens
        if r.cost_output_tokens is not None:
            d["cost_output_tokens"] = r.cost_output_tokens
        if r.trace_id is not None:
            d["trace_id"] = r.trace_id
        if r.span_id is not None:
            d["span_id"] = r.span_id
        if r.record_id is not None:
            d["record_id"] = r.record_id
        try:
            out = orjson.dumps(d, option=option)
        except TypeError:
            # lone UTF-16 surrogates cannot be UTF-8: U+FFFD instead (docs/compliance-formats.md)
            out = orjson.dumps({k: _fix_surrogates(v) for k, v in d.items()}, option=option)
        # JS-style line splitters treat U+2028/2029 as line ends; they only occur in strings
        if _LS in out or _PS in out:
            out = out.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029")
        return out

    def format(self, r: ComplianceRecord) -> str:
        return self.format_bytes(r).decode("utf-8")


def _fix_surrogates(value: Any) -> Any:
    return fix_surrogates(value) if isinstance(value, str) else value
