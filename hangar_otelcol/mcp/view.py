"""``ToolInvocation``: the view of one span or log record that is a tool call or a state
change, as the reader (``hangar_otelcol.mcp.reader``) found it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hangar_otelcol.mcp.keys import TOOL_EVENT
from hangar_otelcol.pdata import Part

#: protobuf field numbers of Span.attributes and LogRecord.attributes (encoded attributes
#: are appended to a record as wire bytes of these fields)
SPAN_ATTRIBUTES = 9
LOG_ATTRIBUTES = 6


def _no_part() -> Part | None:
    return None


class ToolInvocation:
    """What the gateway knows of one tool call or state change, read once.

    ``record`` is the protobuf Span/LogRecord itself. Components read the fields; the only
    writers are ``hangar_otelcol.mcp.attrs`` (attributes on the record, kept consistent
    with ``attr_index`` and the part's wire bytes) and the processors that set the field
    they computed next to the attribute (``caller_*``, ``cost_*``).

    Fields default to class attributes and only the ones a record carries are set on
    the instance: an invocation is built per tool call, so construction is on the hot
    path (bench/README.md: per-record Python work dominates).
    """

    event = TOOL_EVENT
    is_span = False
    record: Any = None
    resource: Any = None
    #: weak reference to the Part holding the record: the part holds its invocations, so a
    #: strong one would make every indexed part a reference cycle, freed only by the
    #: garbage collector, together with its decoded request (measured: RSS grew to 1 GiB
    #: at full load once the collector ran less often)
    part_ref: Callable[[], Part | None] = staticmethod(_no_part)
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
    #: True if counters count this record (``reader.count_policy``)
    counted = True
    #: a span of a wrapper tool (``InvocationKeys.wrapper_tools``): not priced, not counted
    wrapper = False
    #: an audit record the gateway derived from a span (``mcp.audit.source=span``)
    derived = False
    #: views that read-only consumers derive from this invocation, shared between
    #: instances of a consumer (e.g. the compliance record two compliance exporters format)
    views: dict[str, Any] | None = None
    #: len(record.attributes), kept by the reader and the attribute writers
    attr_count = 0
    #: the record's event name attribute as read (``mcp.event.name``), before mapping
    event_name: str | None = None
    #: ``hangar_otelcol.mcp.ids.record_id``, once computed
    record_id: bytes | None = None
    #: numbers the record carries that the gateway does not use (``mcp.numbers``): field
    #: name -> (attribute key, reason, ``invalid_number`` | ``out_of_range``); the field
    #: keeps its default (0 tokens, no duration, no cost) and the attribute stays on the
    #: record as sent. None: every number is fine
    invalid: dict[str, tuple[str, str, str]] | None = None

    def __init__(self, record: Any = None, is_span: bool = False) -> None:
        self.record = record
        self.is_span = is_span
        #: attribute key -> position in record.attributes, for keys this module reads/writes
        self.attr_index: dict[str, int] = {}

    @property
    def attribute_field(self) -> int:
        """Field number of the attributes in the record (Span 9, LogRecord 6)."""
        return SPAN_ATTRIBUTES if self.is_span else LOG_ATTRIBUTES

    def __repr__(self) -> str:
        return (f"ToolInvocation({self.event} {'span' if self.is_span else 'log'} "
                f"server={self.server} tool={self.tool} status={self.status} "
                f"counted={self.counted})")


InvocationIndex = list[ToolInvocation]
