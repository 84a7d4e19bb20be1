"""``index(part, keys)``: every tool invocation and state change in a Part, read once.

The caller and cost processors, the Prometheus and compliance exporters and the
spans-to-audit connector all read these views; none of them walks attributes again.
``index`` has no side effects beyond caching its result on the part (``Part.cache``).

Fast path: a part whose bytes contain none of the marker strings (``execute_tool``,
``batch.call.``, ``tool_invocation``, ``mcp_server_state_change``) cannot hold an
invocation, so its spans are never walked from Python.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.mcp.keys import (
    AUDIT_SOURCE_SPAN,
    CALLER_ID,
    CALLER_ROLES,
    CALLER_TYPE,
    COST_CENTS,
    COST_CURRENCY,
    COST_MODEL,
    DEFAULT_KEYS,
    POSITIONAL_KEYS,
    STATE_EVENT,
    TOOL_EVENT,
    InvocationKeys,
)
from hangar_otelcol.mcp.numbers import (
    INVALID_NUMBER,
    MAX_COST_CENTS,
    MAX_DURATION_MS,
    OUT_OF_RANGE,
    Invalid,
    parse_cost_cents,
    parse_count,
    parse_duration_ms,
)
from hangar_otelcol.mcp.view import InvocationIndex, ToolInvocation
from hangar_otelcol.pdata import Part


def index(part: Part, keys: InvocationKeys = DEFAULT_KEYS) -> InvocationIndex:
    """The tool invocations and state changes in a part.

    Cached on the part for equal ``keys``: every component of the default config reads
    with the same keys, so a part is walked once; a component configured with other
    ``invocations:`` keys gets its own reading.
    """
    cached = part.cache
    if cached is not None and (cached[0] is keys or cached[0] == keys):
        return cached[1]
    message = part.message
    result: InvocationIndex = []
    if isinstance(message, (ExportTraceServiceRequest, ExportLogsServiceRequest)):
        wire = part.wire()
        reader = _reader(keys)
        if any(m in wire for m in reader.markers):
            if isinstance(message, ExportTraceServiceRequest):
                _index_spans(part, message, reader, result)
            else:
                _index_logs(part, message, keys, reader, result)
            count_policy(result, keys)
    part.cache = (keys, result)
    return result


def _resource_service(resource: Any) -> tuple[str | None, str | None]:
    name = version = None
    for kv in resource.attributes:
        k = kv.key
        if k == "service.name":
            name = kv.value.string_value
        elif k == "service.version":
            version = kv.value.string_value
    return name, version


def _index_spans(part: Part, message: Any, reader: _Reader, out: InvocationIndex) -> None:
    part_ref = weakref.ref(part)
    prefixes, op_key, op_values = reader.prefixes, reader.op_key, reader.op_values
    for rs in message.resource_spans:
        service: tuple[str | None, str | None] | None = None
        for ss in rs.scope_spans:
            scope_name: str | None = None
            for span in ss.spans:
                name = span.name
                if not (prefixes and name.startswith(prefixes)):
                    # most spans are not tool calls: compare keys only, read nothing else
                    for kv in span.attributes:
                        if kv.key == op_key and kv.value.string_value in op_values:
                            break
                    else:
                        continue
                inv = reader.read(span, True)
                if service is None:
                    service = _resource_service(rs.resource)
                if scope_name is None:
                    scope_name = ss.scope.name
                inv.part_ref = part_ref
                inv.resource = rs.resource
                inv.scope_name = scope_name
                inv.service_name, inv.service_version = service
                inv.span_name = name
                inv.span_kind = span.kind
                start = inv.time_unix_nano = span.start_time_unix_nano
                end = inv.end_unix_nano = span.end_time_unix_nano
                inv.trace_id = span.trace_id
                inv.span_id = span.span_id
                if inv.duration_ms is None and end and \
                        (inv.invalid is None or "duration_ms" not in inv.invalid):
                    duration = (end - start) / 1e6
                    if 0.0 <= duration <= MAX_DURATION_MS:
                        inv.duration_ms = duration
                    else:  # ends before it starts, or in another century
                        inv.invalid = inv.invalid or {}
                        inv.invalid["duration_ms"] = (
                            ("end_time_unix_nano", "the span ends before it starts",
                             INVALID_NUMBER) if duration < 0 else
                            ("end_time_unix_nano", "out of range (above 1e12 ms)",
                             OUT_OF_RANGE))
                if inv.status is None:
                    inv.status = "error" if span.status.code == 2 else "success"
                out.append(inv)


def _index_logs(part: Part, message: Any, keys: InvocationKeys, reader: _Reader,
                out: InvocationIndex) -> None:
    part_ref = weakref.ref(part)
    wanted = {keys.tool_event: TOOL_EVENT, keys.state_event: STATE_EVENT}
    for rl in message.resource_logs:
        service: tuple[str | None, str | None] | None = None
        for sl in rl.scope_logs:
            scope_name: str | None = None
            for rec in sl.log_records:
                # one pass reads the event name and every known key (audit records are
                # nearly all invocations, so reading before knowing is the cheaper bet)
                inv = reader.read(rec, False)
                event = wanted.get(inv.event_name)  # type: ignore[arg-type]
                if event is None:
                    continue
                if service is None:
                    service = _resource_service(rl.resource)
                if scope_name is None:
                    scope_name = sl.scope.name
                inv.event = event
                inv.part_ref = part_ref
                inv.resource = rl.resource
                inv.scope_name = scope_name
                inv.service_name, inv.service_version = service
                inv.time_unix_nano = rec.time_unix_nano or rec.observed_time_unix_nano
                inv.trace_id = rec.trace_id
                inv.span_id = rec.span_id
                out.append(inv)


# how a known attribute's value is read (each kind reads its typed field directly and
# falls back to the general oneof lookup only when that field is empty)
_STR, _INT, _NUM, _CENTS, _SOURCE, _EVENT, _POSITION = range(7)


class _Reader:
    """Reads the known attributes of a span/log record in one pass (per InvocationKeys).

    ``table`` maps an attribute key to (ToolInvocation field, rank, kind). Where several
    keys feed one field (``tool_keys`` ...), the key listed first wins whatever the order
    of the attributes (rank >= 0); single-key fields have rank -1.
    """

    def __init__(self, keys: InvocationKeys) -> None:
        table: dict[str, tuple[str, int, int, bool]] = {}
        # keys processors overwrite in place or read by position (the attribute writers
        # and the caller processor rely on attr_index being complete for these)
        positional = POSITIONAL_KEYS

        def add(names: list[str], field_name: str, kind: int) -> None:
            ranked = len(names) > 1
            for rank, name in enumerate(names):
                table.setdefault(name, (field_name, rank if ranked else -1, kind,
                                        name in positional))

        add([keys.event_name_key], "event_name", _EVENT)
        add(keys.tool_keys, "tool", _STR)
        add(keys.server_keys, "server", _STR)
        add(keys.input_token_keys, "input_tokens", _INT)
        add(keys.output_token_keys, "output_tokens", _INT)
        add(keys.duration_keys, "duration_ms", _NUM)
        add(keys.status_keys, "status", _STR)
        add(keys.error_type_keys, "error_type", _STR)
        add([keys.state_key], "to_state", _STR)
        add([keys.previous_state_key], "from_state", _STR)
        add([CALLER_TYPE], "caller_type", _STR)
        add([CALLER_ID], "caller_id", _STR)
        add([CALLER_ROLES], "caller_roles", _STR)
        add([COST_CENTS], "cost_cents", _CENTS)
        add([COST_MODEL], "cost_model", _STR)
        add([COST_CURRENCY], "cost_currency", _STR)
        add([keys.audit_source_key], "derived", _SOURCE)
        # keys whose position the processors need (to overwrite or read in place)
        for name in positional:
            table.setdefault(name, ("", -1, _POSITION, True))
        self.table = table
        self.wrapper_tools = frozenset(keys.wrapper_tools)
        self.markers = keys.markers()
        self.prefixes = tuple(keys.span_name_prefixes)
        self.op_key = keys.span_operation_key
        self.op_values = frozenset(keys.span_operation_values)
        self.nested = tuple(keys.nested_span_scopes)

    def read(self, record: Any, is_span: bool) -> ToolInvocation:
        table = self.table
        inv = ToolInvocation(record, is_span)
        positions = inv.attr_index
        best: dict[str, int] | None = None
        i = -1
        for kv in record.attributes:
            i += 1
            k = kv.key
            entry = table.get(k)
            if entry is None:
                continue
            field_name, rank, kind, keep_position = entry
            if keep_position:
                positions[k] = i
            if rank >= 0:  # several keys feed this field: keep the first-listed one
                if best is None:
                    best = {}
                elif best.get(field_name, rank + 1) <= rank:
                    continue
                best[field_name] = rank
            v = kv.value
            value: Any
            if kind == _STR:
                value = v.string_value or _as_str(_any(v))
            elif kind == _INT:
                value = v.int_value
                if value <= 0:  # 0 (or not an int), or negative: read it with bounds
                    value = _checked(inv, field_name, k, _any(v), parse_count, 0)
            elif kind == _NUM:
                value = v.double_value
                if not 0.0 < value <= MAX_DURATION_MS:  # also NaN
                    value = _checked(inv, field_name, k, _any(v), parse_duration_ms, None)
            elif kind == _EVENT:
                value = v.string_value
            elif kind == _CENTS:
                value = v.int_value
                if not 0 < value <= MAX_COST_CENTS:  # only an integer is a cost
                    raw = _any(v)
                    value = _checked(inv, field_name, k, raw, parse_cost_cents, None) \
                        if type(raw) is int else None
            elif kind == _SOURCE:
                value = v.string_value == AUDIT_SOURCE_SPAN
            else:
                continue
            if value is _INVALID_VALUE:  # the field keeps its default (inv.invalid says why)
                continue
            setattr(inv, field_name, value)
            if inv.invalid is not None and kind in _NUMBERS:
                _valid_again(inv, field_name, k)
        inv.attr_count = i + 1
        tool = inv.tool
        if tool is not None and tool in self.wrapper_tools:
            inv.wrapper = True
        return inv


_READERS: dict[int, tuple[InvocationKeys, _Reader]] = {}


def _reader(keys: InvocationKeys) -> _Reader:
    cached = _READERS.get(id(keys))
    if cached is None or cached[0] is not keys:
        cached = (keys, _Reader(keys))
        _READERS[id(keys)] = cached
    return cached[1]


def _any(value: Any) -> Any:
    """The value of an AnyValue whichever field is set (None if none is)."""
    which = value.WhichOneof("value")
    return getattr(value, which) if which else None


def _as_str(value: Any) -> str | None:
    if value is None or isinstance(value, (bytes, bytearray)):
        return None
    return value if isinstance(value, str) else str(value)


class _InvalidValue:
    """Marks that ``_checked`` just recorded an invalid number (never stored)."""


_INVALID_VALUE = _InvalidValue()
_NUMBERS = frozenset({_INT, _NUM, _CENTS})


def _checked(inv: ToolInvocation, field_name: str, key: str, raw: Any,
             parse: Callable[[Any], Any], default: Any) -> Any:
    """``raw`` read with bounds (``mcp.numbers``). An absent or empty value is the
    default; an invalid one is the default too, and noted in ``inv.invalid``."""
    if raw is None or raw == "":
        return default
    value = parse(raw)
    if isinstance(value, Invalid):
        if inv.invalid is None:
            inv.invalid = {}
        inv.invalid[field_name] = (key, value.reason, value.kind)
        setattr(inv, field_name, default)
        return _INVALID_VALUE
    return value


def _valid_again(inv: ToolInvocation, field_name: str, key: str) -> None:
    """A better-ranked key gave ``field_name`` a valid value: an invalid one read before
    from another key no longer counts."""
    invalid = inv.invalid
    if invalid is not None:
        noted = invalid.get(field_name)
        if noted is not None and noted[0] != key:
            del invalid[field_name]


def count_policy(invocations: InvocationIndex, keys: InvocationKeys = DEFAULT_KEYS) -> None:
    """Decide which records counters count, so each call is counted exactly once.

    Within one signal (stateless, per record; see docs/identity-and-cost.md):
    - every audit log record counts (hangar writes exactly one per call or state change;
      records derived from spans carry ``mcp.audit.source=span`` and count too, because the
      deriving connector only derives calls that no real audit record covers);
    - a span named ``batch.call.<tool>`` counts (hangar's one span per call, 1.1 to 2.x);
    - an ``execute_tool`` span counts unless it comes from a ``nested_span_scopes`` scope
      (hangar's own CLIENT span, always inside the ``batch.call.<tool>`` of the same call);
    - a span of a ``wrapper_tools`` tool (``tools/call hangar_call``) never counts.

    Across signals (the same call as an audit record AND a counted span) the default
    pipeline counts audit records only; spans reach the counters only through the
    ``tool_audit`` connector, which asks its ledger (``hangar_otelcol.ledger``) whether a
    real audit record already covers the call.
    """
    reader = _reader(keys)
    prefixes, nested = reader.prefixes, reader.nested
    for inv in invocations:
        if not inv.is_span:
            if not inv.counted:
                inv.counted = True
        elif inv.wrapper:
            inv.counted = False
        elif prefixes and inv.span_name.startswith(prefixes):
            inv.counted = True
        else:
            inv.counted = not (nested and inv.scope_name.startswith(nested))
