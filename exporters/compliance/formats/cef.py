"""CEF (ArcSight Common Event Format), docs/compliance-formats.md.

``CEF:0|Vendor|Product|Version|EventClassID|Name|Severity|key=value key=value ...``

Escaping differs between header and extension (CEF Implementation Standard):
header ``\\`` -> ``\\\\``, ``|`` -> ``\\|``, CR/LF -> one space; extension
``\\`` -> ``\\\\``, ``=`` -> ``\\=``, LF/CR -> ``\\n``/``\\r``, ``|`` and TAB raw.
CEF defines no escape for other control characters and strict parsers reject
unknown escapes, so other C0/C1 controls, DEL, U+2028 and U+2029 become U+FFFD (a record
is one line for every splitter, ``str.splitlines()`` included). Values are cut to the
standard's per-key lengths (and the size caps) before escaping; a cut value ends with
``…[truncated N bytes]`` within its length. ``act`` (a fixed vocabulary) is written last
because trailing spaces of the final pair are not preserved by CEF parsers.
"""

from __future__ import annotations

import re

from ..record import EVENT_IDS, EVENT_KEYS, ComplianceRecord
from .base import Formatter
from .common import CONTROLS, Memo, epoch_millis, number_text, truncate, utf8
from .options import FormatOptions

NAMES = {
    "ToolInvocationRequested": "Tool Invocation Requested",
    "ToolInvocationCompleted": "Tool Invocation Completed",
    "ToolInvocationFailed": "Tool Invocation Failed",
    "ToolInvocationDenied": "Tool Invocation Denied",
    "McpServerStateChanged": "MCP Server State Changed",
}

# CEF dictionary lengths (docs/compliance-formats.md)
_USER = 1023
_OUTCOME = 63
_CS = 4000
_FLEX = 1023
_REASON = 1023
_HOST = 100
#: the standard's lengths of the keys the record's fields go to (code points)
LENGTHS = {"status": _OUTCOME, "caller_id": _USER, "caller_roles": _USER,
           "caller_type": _FLEX, "mcp_server_id": _CS, "tool_name": _CS, "from_state": _CS,
           "to_state": _CS, "cost_model": _CS, "error_type": _REASON}


def _table(keep: dict[str, str]) -> dict[int, str]:
    """str.translate table: controls become U+FFFD (CEF has no escape for them), except
    the characters in ``keep``, which become what it says."""
    table: dict[int, str] = {c: "\ufffd" for c in (*CONTROLS, 0x2028, 0x2029)}
    table.update({ord(c): text for c, text in keep.items()})
    return table


EXT_TABLE = _table({"\t": "\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "=": "\\="})
HDR_TABLE = _table({"\t": " ", "\n": " ", "\r": " ", "\\": "\\\\", "|": "\\|"})


def escape_header(value: str, limit: int = 1023) -> str:
    return truncate(value.replace("\r\n", " "), limit).translate(HDR_TABLE)


class CefFormatter(Formatter):
    name = "cef"
    RECORD_ID = re.compile(rb'externalId=([0-9a-f]{32})')

    def __init__(self, options: FormatOptions | None = None) -> None:
        super().__init__(options, LENGTHS)
        o = self.options
        self._esc = Memo(lambda v: v.translate(EXT_TABLE))
        self._version = Memo(lambda v: escape_header(v, 31))
        self._prefix = f"CEF:0|{escape_header(o.vendor, 63)}|{escape_header(o.product, 63)}|"
        self._host = f"dvchost={truncate(o.hostname, _HOST).translate(EXT_TABLE)}"
        # "<id>|<name>|<severity>|" per record type
        self._event = {t: f"{r_id}|{NAMES[t]}|{o.cef_severity[EVENT_KEYS[t]]}|"
                       for t, r_id in EVENT_IDS.items()}

    def format_line(self, r: ComplianceRecord) -> bytes:
        """The record as one LF-terminated UTF-8 line (files and streams)."""
        return utf8(self.limits.apply(r, self._render_line, newline=True))

    def format(self, r: ComplianceRecord) -> str:
        return self.limits.apply(r, self._render)

    def _render_line(self, r: ComplianceRecord, truncated: tuple[str, ...]) -> str:
        return self._render(r, truncated, "\n")

    def _render(self, r: ComplianceRecord, truncated: tuple[str, ...], end: str = "") -> str:
        o = self.options
        esc = self._esc
        version = self._version(o.version or r.service_version or o.fallback_version)
        ext = [f"rt={epoch_millis(r.time_unix_nano)}", self._host]
        add = ext.append
        if r.status is not None:
            add(f"outcome={esc(r.status)}")
        if r.caller_id is not None:
            caller = esc(r.caller_id)
            add(f"suser={caller}")
            add(f"suid={caller}")
        if r.caller_roles is not None:
            add(f"spriv={esc(r.caller_roles)}")
        if r.caller_type is not None:
            add(f"flexString2={esc(r.caller_type)} flexString2Label=CallerType")
        if r.mcp_server_id is not None:
            add(f"cs1={esc(r.mcp_server_id)} cs1Label=McpServerId")
        if r.tool_name is not None:
            add(f"cs5={esc(r.tool_name)} cs5Label=ToolName")
        if r.from_state is not None:
            add(f"cs2={esc(r.from_state)} cs2Label=FromState")
        if r.to_state is not None:
            add(f"cs3={esc(r.to_state)} cs3Label=ToState")
        if r.duration_ms is not None:
            add(f"cfp1={number_text(r.duration_ms)} cfp1Label=DurationMs")
        if r.cost_cents is not None:
            add(f"cn2={r.cost_cents} cn2Label=CostCents")
        if r.cost_input_tokens is not None:
            add(f"cn3={r.cost_input_tokens} cn3Label=CostInputTokens")
        if r.cost_output_tokens is not None:
            add(f"flexNumber1={r.cost_output_tokens} flexNumber1Label=CostOutputTokens")
        if r.cost_model is not None:
            add(f"cs4={esc(r.cost_model)} cs4Label=CostModel")
        if r.trace_id is not None:
            add(f"cs6={r.trace_id} cs6Label=TraceId")
        if r.span_id is not None:
            add(f"flexString1={r.span_id} flexString1Label=SpanId")
        if r.record_id is not None:
            add(f"externalId={r.record_id}")
        if r.error_type is not None:
            add(f"reason={esc(r.error_type)}")
        add(f"act={r.event_type}")
        return f"{self._prefix}{version}|{self._event[r.event_type]}{' '.join(ext)}{end}"

