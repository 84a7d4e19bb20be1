"""RFC 5424 syslog (docs/compliance-formats.md), and the RFC 5424 envelope for other formats.

``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [sd-id params] MSG``

* PRI = facility * 8 + the severity mapped from the record type.
* HOSTNAME, APP-NAME, PROCID are checked/sanitized once at config load
  (PRINTUSASCII, 255/48/128 characters); MSGID is the numeric event id.
* PARAM-VALUE escaping is RFC 5424's ``"``, ``\\``, ``]``. In addition, so that
  a record can never be split by a line-oriented transport (files, LF framing,
  receivers that end messages at LF/NUL, ``str.splitlines()``), LF/CR become
  ``\\n``/``\\r``, other C0/C1 controls and DEL (except TAB) ``\\xHH``, U+2028/U+2029
  ``\\u2028``/``\\u2029``. RFC 5424 receivers keep those escapes as they are (a backslash
  followed by anything else is kept, §6.3.3).
* Values over the size caps end with ``…[truncated N bytes]`` and are named in the
  SD-PARAM ``truncated`` (PARAM-NAMEs, comma-separated), before ``record_id``.
* MSG is free text; it gets the BOM only when it is not pure ASCII (an ASCII MSG
  is valid MSG-ANY), so the seed's line is reproduced exactly.
"""

from __future__ import annotations

import re

from ..record import EVENT_KEYS, ComplianceRecord
from .base import Formatter
from .common import CONTROLS, IsoTime, Memo, number_text
from .options import FormatOptions

BOM = "\ufeff"
#: record field -> PARAM-NAME, for ``truncated``
NAMES = {"mcp_server_id": "mcp_server", "tool_name": "tool", "status": "status",
         "error_type": "error", "from_state": "from_state", "to_state": "to_state",
         "caller_type": "caller_type", "caller_id": "caller", "caller_roles": "roles",
         "cost_model": "cost_model"}


def _controls() -> dict[int, str]:
    table: dict[int, str] = {c: f"\\x{c:02X}" for c in CONTROLS}
    table[0x2028] = "\\u2028"
    table[0x2029] = "\\u2029"
    return table


def _sd_table() -> dict[int, str]:
    table = _controls()
    table[0x09] = "\t"  # TAB is harmless everywhere; keep it raw
    table[0x0A] = "\\n"
    table[0x0D] = "\\r"
    table[ord("\\")] = "\\\\"
    table[ord('"')] = '\\"'
    table[ord("]")] = "\\]"
    return table


def _msg_table() -> dict[int, str]:
    table = _controls()
    table[0x0A] = "\\n"
    table[0x0D] = "\\r"
    table[0x09] = "\\t"
    table[ord("\\")] = "\\\\"
    return table


SD_TABLE = _sd_table()
MSG_TABLE = _msg_table()


def header_token(value: str, limit: int) -> str:
    """An RFC 5424 header field: PRINTUSASCII only (others -> '_'), cut to limit, '-' if empty."""
    text = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return text or "-"


class SyslogHeader:
    """Builds ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID`` for a record."""

    __slots__ = ("_fixed", "_pri", "_time")

    def __init__(self, o: FormatOptions) -> None:
        self._time = IsoTime("Z")
        self._fixed = (f"{header_token(o.hostname, 255)} {header_token(o.app_name, 48)} "
                       f"{header_token(o.procid, 128)}")
        self._pri = {k: f"<{o.facility * 8 + sev}>1 " for k, sev in o.syslog_severity.items()}

    def __call__(self, r: ComplianceRecord) -> str:
        return (f"{self._pri[EVENT_KEYS[r.event_type]]}{self._time(r.time_unix_nano)} "
                f"{self._fixed} {r.event_id}")


def envelope(header: SyslogHeader, r: ComplianceRecord, payload: str, bom: bool) -> str:
    """An RFC 5424 message carrying another format's line as MSG (no structured data)."""
    if bom and not payload.isascii():
        return f"{header(r)} - {BOM}{payload}"
    return f"{header(r)} - {payload}"


class SyslogFormatter(Formatter):
    name = "syslog"
    RECORD_ID = re.compile(rb'record_id="([0-9a-f]{32})"')

    def __init__(self, options: FormatOptions | None = None) -> None:
        super().__init__(options)
        o = self.options
        self._header = SyslogHeader(o)
        self._sd_open = f"[{o.sd_id}"
        self._esc = Memo(lambda v: v.translate(SD_TABLE))
        self._msg_esc = Memo(lambda v: v.translate(MSG_TABLE))
        self._bom = o.syslog_bom

    def format(self, r: ComplianceRecord, with_msg: bool = True) -> str:
        return self.limits.apply(r, self._render if with_msg else self._render_sd)

    def _render_sd(self, r: ComplianceRecord, truncated: tuple[str, ...]) -> str:
        return self._render(r, truncated, with_msg=False)

    def _render(self, r: ComplianceRecord, truncated: tuple[str, ...], with_msg: bool = True
                ) -> str:
        esc = self._esc
        sd = [self._sd_open]
        add = sd.append
        if r.mcp_server_id is not None:
            add(f' mcp_server="{esc(r.mcp_server_id)}"')
        if r.tool_name is not None:
            add(f' tool="{esc(r.tool_name)}"')
        if r.status is not None:
            add(f' status="{esc(r.status)}"')
        if r.duration_ms is not None:
            add(f' duration="{number_text(r.duration_ms)}"')
        if r.caller_id is not None:
            add(f' caller="{esc(r.caller_id)}"')
        if r.caller_type is not None:
            add(f' caller_type="{esc(r.caller_type)}"')
        if r.caller_roles is not None:
            add(f' roles="{esc(r.caller_roles)}"')
        if r.error_type is not None:
            add(f' error="{esc(r.error_type)}"')
        if r.from_state is not None:
            add(f' from_state="{esc(r.from_state)}"')
        if r.to_state is not None:
            add(f' to_state="{esc(r.to_state)}"')
        if r.cost_cents is not None:
            add(f' cost_cents="{r.cost_cents}"')
        if r.cost_model is not None:
            add(f' cost_model="{esc(r.cost_model)}"')
        if r.cost_input_tokens is not None:
            add(f' input_tokens="{r.cost_input_tokens}"')
        if r.cost_output_tokens is not None:
            add(f' output_tokens="{r.cost_output_tokens}"')
        if r.trace_id is not None:
            add(f' trace_id="{r.trace_id}"')
        if r.span_id is not None:
            add(f' span_id="{r.span_id}"')
        if truncated:
            add(f' truncated="{",".join(NAMES[f] for f in truncated)}"')
        if r.record_id is not None:
            add(f' record_id="{r.record_id}"')
        add("]")
        if not with_msg:  # MSG is optional; dropped first when a message is too long
            return f"{self._header(r)} {''.join(sd)}"
        msg = self._msg_esc(self.message(r))
        if self._bom == "always" or (self._bom == "auto" and not msg.isascii()):
            msg = BOM + msg
        return f"{self._header(r)} {''.join(sd)} {msg}"

    @staticmethod
    def message(r: ComplianceRecord) -> str:
        """The human-readable MSG (the seed's wording), before escaping."""
        server = r.mcp_server_id if r.mcp_server_id is not None else "-"
        if r.is_state_change:
            return (f"mcp_server {server} state changed from {r.from_state or '-'} "
                    f"to {r.to_state or '-'}")
        return f"Tool {r.tool_name or '-'} on mcp_server {server} {r.status or '-'}"
