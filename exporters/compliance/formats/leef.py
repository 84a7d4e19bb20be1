"""LEEF 2.0 (IBM QRadar), docs/compliance-formats.md.

``LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value<D>key=value...``

LEEF has no escape syntax of its own and QRadar splits on the raw delimiter, so
the invariant is: the raw delimiter and CR/LF never occur inside a value. Value
encoding (docs/compliance-formats.md): ``\\`` -> ``\\\\``, LF/CR/TAB -> ``\\n``/``\\r``/``\\t``,
the delimiter and other C0/C1 controls and DEL -> ``\\xHH``, U+2028/U+2029 (and a delimiter
above U+00FF) -> ``\\uHHHH``; ``=``, ``|`` and other non-ASCII stay. A record is one line
for every splitter (``str.splitlines()`` included). Values over the size caps end with
``…[truncated N bytes]`` and are named in ``truncated=`` (LEEF key names).
Two predefined keys hangar misuses are replaced (they are typed): ``proto``
(an IANA protocol) becomes ``cat`` (the static event category) and ``src`` (an
IP address) becomes the custom key ``mcpServer``.
Header fields cannot be escaped: config values are validated at load time, the
sender's ``service.version`` is sanitized (``|``, ``\\`` and controls -> ``_``).
"""

from __future__ import annotations

import re

from ..record import ComplianceRecord
from .base import Formatter
from .common import CONTROLS, LeefTime, Memo, epoch_millis, number_text
from .options import FormatOptions

_USRNAME_MAX = 255  # IBM predefined attribute limit
#: record field -> LEEF key, for ``truncated=``
KEYS = {"mcp_server_id": "mcpServer", "tool_name": "action", "error_type": "reason",
        "from_state": "oldState", "to_state": "newState",
        "caller_type": "callerType", "caller_id": "usrName", "caller_roles": "role",
        "cost_model": "costModel"}


def delimiter_field(delimiter: str) -> str:
    """The header's DelimiterCharacter field: printable ASCII literally, else ``xHH``."""
    code = ord(delimiter)
    if 0x21 <= code <= 0x7E:
        return delimiter
    return f"x{code:02X}" if code <= 0xFF else f"x{code:04X}"


def _escape_table(delimiter: str) -> dict[int, str]:
    table: dict[int, str] = {c: f"\\x{c:02X}" for c in CONTROLS}
    table[0x2028] = "\\u2028"
    table[0x2029] = "\\u2029"
    table[ord("\\")] = "\\\\"
    table[0x0A] = "\\n"
    table[0x0D] = "\\r"
    table[0x09] = "\\t"
    d = ord(delimiter)
    if delimiter not in "\t\n\r\\":
        table[d] = f"\\x{d:02X}" if d <= 0xFF else f"\\u{d:04X}"
    return table


def sanitize_header(value: str) -> str:
    """Header fields have no escaping: replace ``|``, ``\\``, controls and line breaks by
    ``_``."""
    return "".join("_" if (c in "|\\\u2028\u2029" or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0)
                   else c for c in value[:255])


class LeefFormatter(Formatter):
    name = "leef"
    RECORD_ID = re.compile(rb'recordId=([0-9a-f]{32})')

    def __init__(self, options: FormatOptions | None = None) -> None:
        super().__init__(options, {"caller_id": _USRNAME_MAX})
        o = self.options
        self._d = o.leef_delimiter
        table = _escape_table(o.leef_delimiter)
        self._esc = Memo(lambda v: v.translate(table))
        self._version = Memo(sanitize_header)
        self._prefix = f"LEEF:2.0|{o.vendor}|{o.product}|"
        self._delim_field = delimiter_field(o.leef_delimiter)
        fmt = o.leef_dev_time_format
        self._epoch = fmt == "epoch_ms"
        self._time = LeefTime(millis=".SSS" in fmt, zone=fmt.endswith(" z"))
        self._time_attr = "" if self._epoch else f"{self._d}devTimeFormat={fmt}"

    def format(self, r: ComplianceRecord) -> str:
        return self.limits.apply(r, self._render)

    def _render(self, r: ComplianceRecord, truncated: tuple[str, ...]) -> str:
        o = self.options
        d = self._d
        esc = self._esc
        version = self._version(o.version or r.service_version or o.fallback_version)
        dev_time = (str(epoch_millis(r.time_unix_nano)) if self._epoch
                    else self._time(r.time_unix_nano))
        parts = [f"{self._prefix}{version}|{r.event_id}|{self._delim_field}|devTime={dev_time}"
                 f"{self._time_attr}{d}cat={'mcp_server' if r.is_state_change else 'tool'}"]
        add = parts.append
        if r.caller_id:
            add(f"usrName={esc(r.caller_id)}")
        if r.caller_roles:
            add(f"role={esc(r.caller_roles)}")
        if r.caller_type:
            add(f"callerType={esc(r.caller_type)}")
        if r.tool_name:
            add(f"action={esc(r.tool_name)}")
        if r.duration_ms is not None:
            add(f"duration={number_text(r.duration_ms)}")
        if r.error_type:
            add(f"reason={esc(r.error_type)}")
        if r.from_state:
            add(f"oldState={esc(r.from_state)}")
        if r.to_state:
            add(f"newState={esc(r.to_state)}")
        if r.cost_cents is not None:
            add(f"costCents={r.cost_cents}")
        if r.cost_model:
            add(f"costModel={esc(r.cost_model)}")
        if r.cost_input_tokens is not None:
            add(f"costInputTokens={r.cost_input_tokens}")
        if r.cost_output_tokens is not None:
            add(f"costOutputTokens={r.cost_output_tokens}")
        if r.trace_id:
            add(f"traceId={r.trace_id}")
        if r.span_id:
            add(f"spanId={r.span_id}")
        if truncated:
            add(f"truncated={','.join(KEYS[f] for f in truncated if f in KEYS)}")
        if r.record_id:
            add(f"recordId={r.record_id}")
        if r.mcp_server_id:
            add(f"mcpServer={esc(r.mcp_server_id)}")
        return d.join(parts)
