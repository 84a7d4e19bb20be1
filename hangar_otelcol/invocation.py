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
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.pdata import Part

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


class ToolInvocation:
    """A view of one span or log record that is a tool call or a state change.

    ``record`` is the protobuf Span/LogRecord itself (mutate it only through
    ``set_attributes`` so the view and the wire bytes stay consistent).
    """

    __slots__ = (
        "attr_index", "caller_id", "caller_roles", "caller_type", "cost_cents", "cost_currency",
        "cost_model", "counted", "duration_ms", "end_unix_nano", "error_type", "event",
        "from_state", "input_tokens", "is_span", "output_tokens", "part", "record", "resource",
        "scope_name", "server", "service_name", "service_version", "span_id", "span_kind",
        "span_name", "status", "time_unix_nano", "to_state", "tool", "trace_id",
    )

    def __init__(self) -> None:
        self.event = TOOL_EVENT
        self.is_span = False
        self.record: Any = None
        self.resource: Any = None
        self.part: Part | None = None
        self.scope_name = ""
        self.span_name = ""
        self.span_kind = 0
        self.server: str | None = None
        self.tool: str | None = None
        self.status: str | None = None  # "success" | "error" | "denied" | other
        self.duration_ms: float | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.error_type: str | None = None
        self.from_state: str | None = None
        self.to_state: str | None = None
        self.caller_type: str | None = None
        self.caller_id: str | None = None
        self.caller_roles: str | None = None
        self.cost_cents: int | None = None
        self.cost_model: str | None = None
        self.cost_currency: str | None = None
        self.time_unix_nano = 0
        self.end_unix_nano = 0
        self.trace_id = b""
        self.span_id = b""
        self.service_name: str | None = None
        self.service_version: str | None = None
        #: True if counters count this record (see ``count_policy``)
        self.counted = True
        #: attribute key -> position in record.attributes, for keys this module reads/writes
        self.attr_index: dict[str, int] = {}

    def set_attributes(self, values: dict[str, str | int | float | bool]) -> None:
        """Set attributes on the record: replace known keys in place, append the rest."""
        assert self.part is not None
        self.part.mutable_message()
        attrs = self.record.attributes
        extra = bytearray()
        next_pos = len(attrs)
        for key, value in values.items():
            pos = self.attr_index.get(key)
            if pos is not None and pos < len(attrs) and attrs[pos].key == key:
                _assign(attrs[pos].value, value)
            else:
                self.attr_index[key] = next_pos
                next_pos += 1
                extra += encode_attribute(self._attr_field, key, value)
        if extra:
            # appending pre-encoded wire bytes is ~2x faster than building KeyValues
            self.record.MergeFromString(bytes(extra))

    @property
    def _attr_field(self) -> int:
        return 9 if self.is_span else 6  # Span.attributes = 9, LogRecord.attributes = 6

    def __repr__(self) -> str:
        return (f"ToolInvocation({self.event} {'span' if self.is_span else 'log'} "
                f"server={self.server} tool={self.tool} status={self.status} "
                f"counted={self.counted})")


def _assign(any_value: Any, value: str | int | float | bool) -> None:
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    else:
        any_value.string_value = value


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_delimited(field_no: int, payload: bytes) -> bytes:
    return _varint(field_no << 3 | 2) + _varint(len(payload)) + payload



def encode_attribute(field_no: int, key: str, value: str | int | float | bool) -> bytes:
    """Wire bytes of one KeyValue in field ``field_no`` of a Span/LogRecord."""
    if isinstance(value, bool):
        any_value = b"\x10" + (b"\x01" if value else b"\x00")
    elif isinstance(value, int):
        any_value = b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    elif isinstance(value, float):
        any_value = b"\x21" + struct.pack("<d", value)
    else:
        any_value = _len_delimited(1, value.encode("utf-8"))
    kv = _len_delimited(1, key.encode("utf-8")) + _len_delimited(2, any_value)
    return _len_delimited(field_no, kv)


InvocationIndex = list[ToolInvocation]


def index(part: Part, keys: InvocationKeys = DEFAULT_KEYS) -> InvocationIndex:
    """The tool invocations and state changes in a part (cached on the part)."""
    cached = part.invocation_cache
    if cached is not None:
        return cached
    message = part.message
    result: InvocationIndex = []
    if isinstance(message, (ExportTraceServiceRequest, ExportLogsServiceRequest)):
        wire = part.wire()
        if any(m in wire for m in keys.markers()):
            if isinstance(message, ExportTraceServiceRequest):
                _index_spans(part, message, keys, result)
            else:
                _index_logs(part, message, keys, result)
            count_policy(result)
    part.invocation_cache = result
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


def _index_spans(part: Part, message: Any, keys: InvocationKeys, out: InvocationIndex) -> None:
    prefixes = tuple(keys.span_name_prefixes)
    op_key = keys.span_operation_key
    op_values = set(keys.span_operation_values)
    for rs in message.resource_spans:
        service: tuple[str | None, str | None] | None = None
        for ss in rs.scope_spans:
            for span in ss.spans:
                inv = None
                if prefixes and span.name.startswith(prefixes):
                    inv = _read(span, keys, is_span=True)
                else:
                    for kv in span.attributes:
                        if kv.key == op_key and kv.value.string_value in op_values:
                            inv = _read(span, keys, is_span=True)
                            break
                if inv is None:
                    continue
                if service is None:
                    service = _resource_service(rs.resource)
                inv.part = part
                inv.resource = rs.resource
                inv.scope_name = ss.scope.name
                inv.service_name, inv.service_version = service
                inv.span_name = span.name
                inv.span_kind = span.kind
                inv.time_unix_nano = span.start_time_unix_nano
                inv.end_unix_nano = span.end_time_unix_nano
                inv.trace_id = span.trace_id
                inv.span_id = span.span_id
                if inv.duration_ms is None and span.end_time_unix_nano:
                    inv.duration_ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
                if inv.status is None:
                    inv.status = "error" if span.status.code == 2 else "success"
                out.append(inv)


def _index_logs(part: Part, message: Any, keys: InvocationKeys, out: InvocationIndex) -> None:
    event_key = keys.event_name_key
    wanted = {keys.tool_event: TOOL_EVENT, keys.state_event: STATE_EVENT}
    for rl in message.resource_logs:
        service: tuple[str | None, str | None] | None = None
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                event = None
                for kv in rec.attributes:
                    if kv.key == event_key:
                        event = wanted.get(kv.value.string_value)
                        break
                if event is None:
                    continue
                inv = _read(rec, keys, is_span=False)
                if service is None:
                    service = _resource_service(rl.resource)
                inv.event = event
                inv.part = part
                inv.resource = rl.resource
                inv.scope_name = sl.scope.name
                inv.service_name, inv.service_version = service
                inv.time_unix_nano = rec.time_unix_nano or rec.observed_time_unix_nano
                inv.trace_id = rec.trace_id
                inv.span_id = rec.span_id
                out.append(inv)


def _first(found: dict[str, Any], names: list[str]) -> Any:
    for name in names:
        if name in found:
            return found[name]
    return None


def _read(record: Any, keys: InvocationKeys, *, is_span: bool) -> ToolInvocation:
    """One pass over the record's attributes, keeping only the keys we know."""
    wanted = _wanted_keys(keys)
    found: dict[str, Any] = {}
    inv = ToolInvocation()
    inv.is_span = is_span
    inv.record = record
    positions = inv.attr_index
    for i, kv in enumerate(record.attributes):
        k = kv.key
        if k in wanted:
            v = kv.value
            which = v.WhichOneof("value")
            found[k] = getattr(v, which) if which else None
            positions[k] = i
    inv.tool = _as_str(_first(found, keys.tool_keys))
    inv.server = _as_str(_first(found, keys.server_keys))
    inv.input_tokens = _as_int(_first(found, keys.input_token_keys))
    inv.output_tokens = _as_int(_first(found, keys.output_token_keys))
    duration = _first(found, keys.duration_keys)
    inv.duration_ms = float(duration) if isinstance(duration, (int, float)) else None
    inv.status = _as_str(_first(found, keys.status_keys))
    inv.error_type = _as_str(_first(found, keys.error_type_keys))
    inv.to_state = _as_str(found.get(keys.state_key))
    inv.from_state = _as_str(found.get(keys.previous_state_key))
    inv.caller_type = _as_str(found.get(CALLER_TYPE))
    inv.caller_id = _as_str(found.get(CALLER_ID))
    inv.caller_roles = _as_str(found.get(CALLER_ROLES))
    cents = found.get(COST_CENTS)
    inv.cost_cents = cents if isinstance(cents, int) else None
    inv.cost_model = _as_str(found.get(COST_MODEL))
    inv.cost_currency = _as_str(found.get(COST_CURRENCY))
    return inv


_WANTED_CACHE: dict[int, frozenset[str]] = {}


def _wanted_keys(keys: InvocationKeys) -> frozenset[str]:
    cached = _WANTED_CACHE.get(id(keys))
    if cached is None:
        cached = frozenset([
            *keys.tool_keys, *keys.server_keys, *keys.input_token_keys, *keys.output_token_keys,
            *keys.duration_keys, *keys.status_keys, *keys.error_type_keys, keys.state_key,
            keys.previous_state_key, CALLER_TYPE, CALLER_ID, CALLER_ROLES, COST_CENTS,
            COST_MODEL, COST_CURRENCY, COST_INPUT_TOKENS, COST_OUTPUT_TOKENS,
            "mcp.user.id", "mcp.agent.id", "enduser.id", "user.id", "user.roles",
        ])
        _WANTED_CACHE[id(keys)] = cached
    return cached


def _as_str(value: Any) -> str | None:
    if value is None or isinstance(value, (bytes, bytearray)):
        return None
    return value if isinstance(value, str) else str(value)


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0


def count_policy(invocations: InvocationIndex) -> None:
    """Decide which records counters count, so each call is counted exactly once.

    Placeholder policy (refined by the caller/cost work): every record counts.
    """
    for inv in invocations:
        inv.counted = True
