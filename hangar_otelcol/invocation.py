"""Tool invocations: the ONE place that knows hangar's and GenAI's attribute keys.

``index(part, keys)`` walks a Part once and returns a ``ToolInvocation`` view for
every span or log record that is a tool invocation or an MCP server state change.
The caller and cost processors, the Prometheus and compliance exporters and the
spans-to-audit connector all read these views; none of them walks attributes again.

Fast path: a part whose bytes contain none of the marker strings (``execute_tool``,
``batch.call.``, ``tool_invocation``, ``mcp_server_state_change``) cannot hold an
invocation, so its spans are never walked from Python.
"""

from __future__ import annotations

import struct
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.pdata import Part
from hangar_otelcol.protowire import length_delimited, varint

TOOL_EVENT = "tool_invocation"
STATE_EVENT = "mcp_server_state_change"


@dataclass
class InvocationKeys:
    """What makes a record a tool invocation, and where each field is read from.

    Embedded as ``invocations:`` in the config of every component that reads
    invocations; the defaults match hangar 1.1-2.x and the GenAI conventions.
    """

    span_operation_key: str = "gen_ai.operation.name"
    span_operation_values: list[str] = field(default_factory=lambda: ["execute_tool"])
    span_name_prefixes: list[str] = field(default_factory=lambda: ["batch.call."])
    event_name_key: str = "mcp.event.name"
    tool_event: str = TOOL_EVENT
    state_event: str = STATE_EVENT
    tool_keys: list[str] = field(default_factory=lambda: ["gen_ai.tool.name", "mcp.tool.name"])
    server_keys: list[str] = field(default_factory=lambda: ["mcp.server.id"])
    input_token_keys: list[str] = field(
        default_factory=lambda: [
            "gen_ai.usage.input_tokens", "mcp.cost.input_tokens", "gen_ai.usage.prompt_tokens"
        ]
    )
    output_token_keys: list[str] = field(
        default_factory=lambda: [
            "gen_ai.usage.output_tokens", "mcp.cost.output_tokens",
            "gen_ai.usage.completion_tokens",
        ]
    )
    duration_keys: list[str] = field(default_factory=lambda: ["mcp.tool.duration_ms"])
    status_keys: list[str] = field(default_factory=lambda: ["mcp.tool.status"])
    error_type_keys: list[str] = field(default_factory=lambda: ["mcp.error.type", "error.type"])
    state_key: str = "mcp.server.state"
    previous_state_key: str = "mcp.server.previous_state"
    #: ``execute_tool`` spans from these instrumentation scopes (prefix match) are not
    #: counted: hangar 1.6+ emits its CLIENT ``execute_tool <tool>`` span inside the
    #: ``batch.call.<tool>`` span of the same call, which is the one that counts.
    nested_span_scopes: list[str] = field(default_factory=lambda: ["mcp_hangar."])
    #: tools whose spans wrap other calls (hangar's ``hangar_call`` batch meta-tool: the MCP
    #: SDK's ``tools/call hangar_call`` SERVER span holds one ``batch.call.*`` per real call).
    #: Such spans get caller identity but are neither priced nor counted.
    wrapper_tools: list[str] = field(default_factory=lambda: ["hangar_call"])
    #: attribute that marks an audit record the gateway derived from a span (value ``span``)
    audit_source_key: str = "mcp.audit.source"

    def markers(self) -> tuple[bytes, ...]:
        """Byte strings one of which must occur in a part holding an invocation."""
        values = [*self.span_operation_values, *self.span_name_prefixes,
                  self.tool_event, self.state_event]
        return tuple(v.encode() for v in values if v)


DEFAULT_KEYS = InvocationKeys()

# caller/cost keys that processors write and exporters read back
CALLER_TYPE = "mcp.caller.type"
CALLER_ID = "mcp.caller.id"
CALLER_ROLES = "mcp.caller.roles"
COST_CENTS = "mcp.cost.cents"
COST_MODEL = "mcp.cost.model"
COST_CURRENCY = "mcp.cost.currency"
COST_INPUT_TOKENS = "mcp.cost.input_tokens"
COST_OUTPUT_TOKENS = "mcp.cost.output_tokens"
#: record attributes the caller processor takes identity from (read by position, so the
#: index keeps their positions)
IDENTITY_KEYS = frozenset({CALLER_TYPE, CALLER_ID, CALLER_ROLES, "mcp.user.id", "enduser.id",
                           "user.id", "mcp.agent.id", "user.roles"})
#: protobuf field numbers of Span.attributes and LogRecord.attributes (encoded attributes
#: are appended to a record as wire bytes of these fields)
SPAN_ATTRIBUTES = 9
LOG_ATTRIBUTES = 6
#: value of ``InvocationKeys.audit_source_key`` on audit records derived from spans
AUDIT_SOURCE_SPAN = "span"


class ToolInvocation:
    """A view of one span or log record that is a tool call or a state change.

    ``record`` is the protobuf Span/LogRecord itself (mutate it only through
    ``set_attributes``, ``set_encoded`` or ``append_encoded`` so the view, the attribute
    positions and the wire bytes stay consistent).

    Fields default to class attributes and only the ones a record carries are set on
    the instance: an invocation is built per tool call, so construction is on the hot
    path (python-performance.md: per-span Python work dominates).
    """

    event = TOOL_EVENT
    is_span = False
    record: Any = None
    resource: Any = None
    #: weak reference to the Part holding the record: the part holds its invocations, so a
    #: strong one would make every indexed part a reference cycle, freed only by the
    #: garbage collector, together with its decoded request (measured: RSS grew to 1 GiB
    #: at full load once the collector ran less often)
    part_ref: Callable[[], Part | None] = staticmethod(lambda: None)  # type: ignore[assignment]
    scope_name = ""
    span_name = ""
    span_kind = 0
    server: str | None = None
    tool: str | None = None
    status: str | None = None  # "success" | "error" | "denied" | other
    duration_ms: float | None = None
    input_tokens = 0
    output_tokens = 0
    error_type: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    caller_type: str | None = None
    caller_id: str | None = None
    caller_roles: str | None = None
    cost_cents: int | None = None
    cost_model: str | None = None
    cost_currency: str | None = None
    time_unix_nano = 0
    end_unix_nano = 0
    trace_id = b""
    span_id = b""
    service_name: str | None = None
    service_version: str | None = None
    #: True if counters count this record (see ``count_policy``)
    counted = True
    #: a span of a wrapper tool (``InvocationKeys.wrapper_tools``): not priced, not counted
    wrapper = False
    #: an audit record the gateway derived from a span (``mcp.audit.source=span``)
    derived = False
    #: views that read-only consumers derive from this invocation, shared between
    #: instances of a consumer (e.g. the compliance record two compliance exporters format)
    views: dict[str, Any] | None = None
    #: len(record.attributes), kept by the reader and set_attributes (appending needs it)
    attr_count = 0
    #: the record's event name attribute as read (``mcp.event.name``), before mapping
    event_name: str | None = None

    def __init__(self, record: Any = None, is_span: bool = False) -> None:
        self.record = record
        self.is_span = is_span
        #: attribute key -> position in record.attributes, for keys this module reads/writes
        self.attr_index: dict[str, int] = {}

    def set_attributes(self, values: dict[str, str | int | float | bool]) -> None:
        """Set attributes on the record: replace known keys in place, append the rest."""
        part = self.part_ref()
        if part is not None:  # None: nothing holds the data any more (a test, a leftover)
            part.mutable_message()
        index = self.attr_index
        field_no = SPAN_ATTRIBUTES if self.is_span else LOG_ATTRIBUTES
        extra: list[bytes] = []
        attrs = None
        for key, value in values.items():
            pos = index.get(key)
            if pos is not None:
                if attrs is None:
                    attrs = self.record.attributes
                if pos < len(attrs) and attrs[pos].key == key:
                    _assign(attrs[pos].value, value)
                    continue
            index[key] = self.attr_count
            self.attr_count += 1
            extra.append(encode_attribute(field_no, key, value))
        if extra:
            # appending pre-encoded wire bytes is ~2x faster than building KeyValues
            self.record.MergeFromString(extra[0] if len(extra) == 1 else b"".join(extra))

    def set_encoded(self, attrs: EncodedAttributes) -> None:
        """``set_attributes(attrs.values)`` with the wire bytes encoded once for many
        records (the caller processor writes one identity on every call of a request)."""
        if not self.append_encoded(attrs.keys,
                                   attrs.span_bytes if self.is_span else attrs.log_bytes):
            self.set_attributes(attrs.values)  # a key is there already: replace in place

    def append_encoded(self, keys: tuple[str, ...], encoded: bytes) -> bool:
        """Append ``encoded`` (KeyValues of ``keys`` in this record's attribute field:
        ``attribute_field``); False, changing nothing, if one of the keys is set already."""
        index = self.attr_index
        for key in keys:
            if key in index:
                return False
        part = self.part_ref()
        if part is not None:
            part.mutable_message()
        n = self.attr_count
        for key in keys:
            index[key] = n
            n += 1
        self.attr_count = n
        self.record.MergeFromString(encoded)
        return True

    @property
    def attribute_field(self) -> int:
        """Field number of the attributes in the record (Span 9, LogRecord 6)."""
        return SPAN_ATTRIBUTES if self.is_span else LOG_ATTRIBUTES

    def __repr__(self) -> str:
        return (f"ToolInvocation({self.event} {'span' if self.is_span else 'log'} "
                f"server={self.server} tool={self.tool} status={self.status} "
                f"counted={self.counted})")


class EncodedAttributes:
    """Attributes to set on many records, encoded once (see ``ToolInvocation.set_encoded``)."""

    __slots__ = ("keys", "log_bytes", "span_bytes", "values")

    def __init__(self, values: dict[str, str | int | float | bool]) -> None:
        self.values = dict(values)
        self.keys = tuple(values)
        self.span_bytes = b"".join(
            encode_attribute(SPAN_ATTRIBUTES, k, v) for k, v in values.items())
        self.log_bytes = b"".join(
            encode_attribute(LOG_ATTRIBUTES, k, v) for k, v in values.items())


def _assign(any_value: Any, value: str | int | float | bool) -> None:
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    else:
        any_value.string_value = value


_ENCODED: dict[tuple[int, str, type, str | int | float | bool], bytes] = {}
# (field_no, key) -> for each varint length n (1..10), the bytes of an int KeyValue up to
# its varint: field tag, KeyValue length, key, AnyValue length and the int_value tag
_INT_PREFIXES: dict[tuple[int, str], list[bytes]] = {}


def encode_attribute(field_no: int, key: str, value: str | int | float | bool) -> bytes:
    """Wire bytes of one KeyValue in field ``field_no`` of a Span/LogRecord.

    Strings, booleans and floats are memoized (caller ids, roles, models repeat,
    python-performance.md §8.6); integers (token counts, costs) rarely repeat and are
    written as a per-key prefix plus the varint.
    """
    if type(value) is int:
        prefixes = _INT_PREFIXES.get((field_no, key))
        if prefixes is None:
            prefixes = _INT_PREFIXES[(field_no, key)] = _int_prefixes(field_no, key)
        number = varint(value & 0xFFFFFFFFFFFFFFFF)
        return prefixes[len(number)] + number
    memo_key = (field_no, key, type(value), value)
    cached = _ENCODED.get(memo_key)
    if cached is None:
        cached = _encode_attribute(field_no, key, value)
        if len(_ENCODED) >= 65_536:
            _ENCODED.clear()  # bounded; refills with the values in use
        _ENCODED[memo_key] = cached
    return cached


def _int_prefixes(field_no: int, key: str) -> list[bytes]:
    key_part = length_delimited(1, key.encode("utf-8"))
    out = [b""]
    for n in range(1, 11):
        value_part = b"\x12" + varint(1 + n) + b"\x18"
        out.append(varint(field_no << 3 | 2) + varint(len(key_part) + len(value_part) + n)
                   + key_part + value_part)
    return out


def _encode_attribute(field_no: int, key: str, value: str | int | float | bool) -> bytes:
    if isinstance(value, bool):
        any_value = b"\x10" + (b"\x01" if value else b"\x00")
    elif isinstance(value, int):
        any_value = b"\x18" + varint(value & 0xFFFFFFFFFFFFFFFF)
    elif isinstance(value, float):
        any_value = b"\x21" + struct.pack("<d", value)
    else:
        any_value = length_delimited(1, value.encode("utf-8"))
    kv = length_delimited(1, key.encode("utf-8")) + length_delimited(2, any_value)
    return length_delimited(field_no, kv)


InvocationIndex = list[ToolInvocation]


def index(part: Part, keys: InvocationKeys = DEFAULT_KEYS) -> InvocationIndex:
    """The tool invocations and state changes in a part.

    Cached on the part for equal ``keys``: every component of the default config reads
    with the same keys, so a part is walked once; a component configured with other
    ``invocations:`` keys gets its own reading.
    """
    cached = part.invocation_cache
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
            if isinstance(message, ExportLogsServiceRequest):
                AUDIT_LEDGER.note(result)
    part.invocation_cache = (keys, result)
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
                if inv.duration_ms is None and end:
                    inv.duration_ms = (end - start) / 1e6
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
        # keys processors overwrite in place or read by position (set_attributes and the
        # caller processor rely on attr_index being complete for these)
        positional = {CALLER_TYPE, CALLER_ID, CALLER_ROLES, COST_CENTS, COST_MODEL,
                      COST_CURRENCY, COST_INPUT_TOKENS, COST_OUTPUT_TOKENS, *IDENTITY_KEYS}

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
                value = v.int_value or _as_int(_any(v))
            elif kind == _NUM:
                value = v.double_value or _as_float(_any(v))
            elif kind == _EVENT:
                value = v.string_value
            elif kind == _CENTS:
                value = v.int_value or _as_cents(_any(v))
            elif kind == _SOURCE:
                value = v.string_value == AUDIT_SOURCE_SPAN
            else:
                continue
            setattr(inv, field_name, value)
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


def _as_float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _as_cents(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0


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
    spans-to-audit connector, which asks ``AUDIT_LEDGER.claim()`` whether a real audit
    record already covers the call.
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


class AuditLedger:
    """Process-wide, bounded memory of the calls that real audit log records reported.

    Why: hangar 2.x (and a patched 1.1.0) report a call twice, as an audit log record and as
    a ``batch.call.<tool>`` span, while 1.6.x sends the span only. An audit record carries
    the trace id of the call's active span (captured: its span id is an ``event.publish.*``
    span *inside* ``batch.call.<tool>``), so "same trace id and same tool" pairs a record with
    its span exactly; several calls in one trace (2.x batches) are paired as a multiset.

    ``index()`` notes every real (not derived) ``tool_invocation`` record with a trace id.
    Whoever turns spans into counted records (the spans-to-audit connector) calls
    ``claim(span_inv)``: True means a real audit record covers that call, so the span must
    not be counted again. Both operations are idempotent per record (the same record seen
    through two pipeline copies is noted once; the same span claimed twice claims once).
    Entries expire after ``ttl`` seconds and there are at most ``max_entries`` of each kind.
    """

    def __init__(self, ttl: float = 600.0, max_entries: int = 200_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        # audit record (trace_id, span_id) -> (noted at, trace_id, tool)
        self._records: OrderedDict[tuple[bytes, bytes], tuple[float, bytes, str]] = \
            OrderedDict()
        # (trace_id, tool) -> audit records not yet claimed by a span; and still remembered
        self._open: dict[tuple[bytes, str], int] = {}
        self._live: dict[tuple[bytes, str], int] = {}
        # claimed span (trace_id, span_id) -> (claimed at, answer)
        self._claims: OrderedDict[tuple[bytes, bytes], tuple[float, bool]] = OrderedDict()

    def note(self, invocations: InvocationIndex) -> None:
        now = self._clock()
        self._expire(now)
        records = self._records
        for inv in invocations:
            if inv.is_span or inv.event != TOOL_EVENT or inv.derived or not inv.trace_id:
                continue
            key = (inv.trace_id, inv.span_id)
            if key in records:
                continue
            tool = inv.tool or ""
            records[key] = (now, inv.trace_id, tool)
            call = (inv.trace_id, tool)
            self._open[call] = self._open.get(call, 0) + 1
            self._live[call] = self._live.get(call, 0) + 1
            if len(records) > self.max_entries:
                self._drop_record(*records.popitem(last=False))

    def claim(self, span: ToolInvocation) -> bool:
        """True if a real audit record covers the call of this (counted) span."""
        key = (span.trace_id, span.span_id)
        previous = self._claims.get(key)
        if previous is not None:
            return previous[1]
        now = self._clock()
        self._expire(now)
        call = (span.trace_id, span.tool or "")
        left = self._open.get(call, 0)
        covered = left > 0
        if covered:
            if left == 1:
                del self._open[call]
            else:
                self._open[call] = left - 1
        self._claims[key] = (now, covered)
        if len(self._claims) > self.max_entries:
            self._claims.popitem(last=False)
        return covered

    def claim_if_covered(self, span: ToolInvocation) -> bool:
        """``claim()`` if a real audit record covers the span already; else False, and
        nothing is decided (a later ``claim()`` may still find a late audit record)."""
        previous = self._claims.get((span.trace_id, span.span_id))
        if previous is not None:
            return previous[1]
        if self._open.get((span.trace_id, span.tool or ""), 0) > 0:
            return self.claim(span)
        return False

    def clear(self) -> None:
        self._records.clear()
        self._open.clear()
        self._live.clear()
        self._claims.clear()

    def __len__(self) -> int:
        return len(self._records)

    def _drop_record(self, key: tuple[bytes, bytes], entry: tuple[float, bytes, str]) -> None:
        # which record of a call a span claimed is unknown (multiset), so keep
        # "unclaimed <= remembered" rather than guessing
        call = (entry[1], entry[2])
        live = self._live.get(call, 0) - 1
        if live <= 0:
            self._live.pop(call, None)
            self._open.pop(call, None)
        else:
            self._live[call] = live
            if self._open.get(call, 0) > live:
                self._open[call] = live

    def _expire(self, now: float) -> None:
        horizon = now - self.ttl
        records = self._records
        while records:
            key, entry = next(iter(records.items()))
            if entry[0] >= horizon:
                break
            records.popitem(last=False)
            self._drop_record(key, entry)
        claims = self._claims
        while claims:
            key, centry = next(iter(claims.items()))
            if centry[0] >= horizon:
                break
            claims.popitem(last=False)


#: the one ledger of this process (``index()`` feeds it; the connector claims from it)
AUDIT_LEDGER = AuditLedger()
