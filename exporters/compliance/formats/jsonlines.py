"""JSON-lines: one compact UTF-8 JSON object per line (docs/compliance-formats.md).

Key order follows the seed: timestamp, event_type, mcp_server_id, tool_name,
status, duration_ms, then the optional fields. Absent fields are left out;
empty strings are kept (the JSON line is the lossless record, within the size caps:
a field cut to fit ends with ``…[truncated N bytes]`` and is named in ``"truncated"``).
orjson escapes C0 controls; DEL, C1 controls (NEL among them) and U+2028/U+2029 are
escaped here as ``\u007f``, ``\u0085``, ``\u2028``..., so no line splitter ends a line early.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..record import ComplianceRecord
from .base import Formatter
from .common import IsoTime, fix_surrogates, json_number
from .options import FormatOptions

#: in orjson's UTF-8 output: DEL, C1 controls (U+0080-U+009F), U+2028, U+2029
_UNSAFE = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]")


def _json_escape(m: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(m.group(0).decode("utf-8"))


class JsonLinesFormatter(Formatter):
    name = "jsonlines"
    RECORD_ID = re.compile(rb'"record_id":"([0-9a-f]{32})"')
    envelope_bom = True  # JSON is free-text UTF-8

    def __init__(self, options: FormatOptions | None = None) -> None:
        super().__init__(options)
        self._time = IsoTime("+00:00")

    def format_line(self, r: ComplianceRecord) -> bytes:
        """The record as one LF-terminated line (files and streams)."""
        # a right-sized copy: orjson's result keeps its whole 4 KiB buffer (orjson 3.13),
        # and lines wait in memory until written (a 16k-record batch held 64 MiB)
        return bytes(memoryview(self.limits.apply(r, self._render_line, newline=True)))

    def format_bytes(self, r: ComplianceRecord) -> bytes:
        """The record as one line without its newline, within the size caps."""
        return self.limits.apply(r, self._render)

    def _render_line(self, r: ComplianceRecord, truncated: tuple[str, ...]) -> bytes:
        return self._render(r, truncated, orjson.OPT_APPEND_NEWLINE)

    def _render(self, r: ComplianceRecord, truncated: tuple[str, ...], option: int = 0
                ) -> bytes:
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
        if truncated:
            d["truncated"] = list(truncated)  # the JSON keys are the record's field names
        if r.record_id is not None:
            d["record_id"] = r.record_id
        try:
            out = orjson.dumps(d, option=option)
        except TypeError:
            # lone UTF-16 surrogates cannot be UTF-8: U+FFFD instead (docs/compliance-formats.md)
            out = orjson.dumps({k: _fix_surrogates(v) for k, v in d.items()}, option=option)
        # U+2028/2029 and NEL end lines for JS-style and Unicode-aware splitters; these
        # bytes only occur inside strings, where a \u escape means the same character
        if (b"\x7f" in out or b"\xc2" in out or b"\xe2" in out) and _UNSAFE.search(out):
            out = _UNSAFE.sub(_json_escape, out)
        return out

    def format(self, r: ComplianceRecord) -> str:
        return self.format_bytes(r).decode("utf-8")


def _fix_surrogates(value: Any) -> Any:
    return fix_surrogates(value) if isinstance(value, str) else value
