"""Numbered tool calls for load and fault tests: hangar 2.x audit records, each its own call.

Every record is the ``tool_invocation`` record hangar 2.34.4 sent (the first one of
tests/testdata/hangar-captures/v2.34.4/otlp-grpc/0001-logs-grpc.json, with its resource and
scope), made into call ``n`` by its trace id, span id and time. The number can be read
back from what an output wrote (the trace id), so a test can tell which acknowledged call
arrived, and how often. ``spans_request`` makes the same calls' spans (the ``batch.call.add``
span hangar 2.34.4 sent for that call), so a test can report each call twice, as hangar
2.x does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope as WireScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as WireRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as WireResource
from opentelemetry.proto.trace.v1.trace_pb2 import Span as WireSpan
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
    set_span_in_context,
)

from hangar_otelcol.pdata import Signal
from hangar_otelcol.signals import SIGNALS
from tests.support import captures
from tests.support.otlp import attrs, items

#: the first 8 bytes of every trace id made here ("fault call")
PREFIX = bytes.fromhex("fa017ca11fa017ca")
_BASE_TIME = 1_795_554_865_699_432_388


@cache
def _template() -> tuple[bytes, bytes, bytes]:
    """(resource, scope, record) of hangar's first tool_invocation record, serialized."""
    for capture in captures.captures("2.34.4"):
        if capture.signal is not Signal.LOGS:
            continue
        for resource, scope, record in items(Signal.LOGS, capture.message()):
            if attrs(record).get("mcp.event.name") == "tool_invocation":
                return (resource.SerializeToString(), scope.SerializeToString(),
                        record.SerializeToString())
    raise LookupError("no tool_invocation record in the hangar 2.34.4 captures")


@cache
def _span_template() -> tuple[bytes, bytes, bytes]:
    """(resource, scope, span) of the ``batch.call.<tool>`` span, the one hangar 2.34.4
    counts per call, of ``_template``'s record's call (same trace and tool), serialized."""
    record = WireRecord.FromString(_template()[2])
    for capture in captures.captures("2.34.4"):
        if capture.signal is not Signal.TRACES:
            continue
        for resource, scope, span in items(Signal.TRACES, capture.message()):
            tool = attrs(record).get("gen_ai.tool.name")
            if span.trace_id == record.trace_id and span.name == f"batch.call.{tool}":
                return (resource.SerializeToString(), scope.SerializeToString(),
                        span.SerializeToString())
    raise LookupError("no span of the first tool_invocation call in the 2.34.4 captures")


def trace_id(n: int) -> bytes:
    return PREFIX + n.to_bytes(8, "big")


def call_number(trace_id_hex: str) -> int | None:
    """The call a trace id (hex, as the outputs write it) belongs to; None if not ours."""
    raw = bytes.fromhex(trace_id_hex)
    if len(raw) != 16 or not raw.startswith(PREFIX):
        return None
    return int.from_bytes(raw[8:], "big")


def jsonl_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines compliance file, without its chain checkpoints (the
    shipped config chains its records: docs/compliance-formats.md, "Chained records")."""
    if not path.exists():
        return []
    records = (orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip())
    return [r for r in records if r.get("event_type") != "ChainCheckpoint"]


def jsonl_calls(path: Path) -> list[int | None]:
    """The call number of every record of a JSON-lines compliance file (its ``trace_id``)."""
    return [call_number(record.get("trace_id", "")) for record in jsonl_records(path)]


def _numbered(signal: Signal, template: tuple[bytes, bytes, bytes], first: int, count: int,
              number: Callable[[Any, int], None]) -> Any:
    """An export request of ``signal`` with one copy of ``template``'s item per call
    ``first`` .. ``first + count - 1`` (its resource and scope once), each made call ``n``
    by ``number(item, n)``."""
    resource, scope, item_wire = template
    req = SIGNALS[signal].request_type()
    kind, items_field = ("logs", "log_records") if signal is Signal.LOGS else ("spans", "spans")
    group = getattr(req, f"resource_{kind}").add()
    group.resource.ParseFromString(resource)
    scoped = getattr(group, f"scope_{kind}").add()
    scoped.scope.ParseFromString(scope)
    for n in range(first, first + count):
        item = getattr(scoped, items_field).add()
        item.ParseFromString(item_wire)
        item.trace_id = trace_id(n)
        number(item, n)
    return req


def _number_record(item: Any, n: int) -> None:
    item.span_id = n.to_bytes(8, "big")
    item.time_unix_nano = item.observed_time_unix_nano = _BASE_TIME + n


def _number_span(item: Any, n: int) -> None:
    item.span_id = (n | 1 << 63).to_bytes(8, "big")  # not the record's span id
    item.start_time_unix_nano = _BASE_TIME + n
    item.end_time_unix_nano = _BASE_TIME + n + 1_000_000


def calls_request(first: int, count: int) -> ExportLogsServiceRequest:
    """One export request with calls ``first`` .. ``first + count - 1``."""
    request: ExportLogsServiceRequest = _numbered(Signal.LOGS, _template(), first, count,
                                                  _number_record)
    return request


def spans_request(first: int, count: int) -> ExportTraceServiceRequest:
    """The spans of calls ``first`` .. ``first + count - 1`` (``calls_request`` has their
    audit records): one ``batch.call.<tool>`` span each, in the call's trace."""
    request: ExportTraceServiceRequest = _numbered(Signal.TRACES, _span_template(), first,
                                                   count, _number_span)
    return request


def sdk_calls(first: int, count: int, extra: dict[str, Any] | None = None
              ) -> list[ReadableLogRecord]:
    """Calls ``first`` .. ``first + count - 1`` as the OpenTelemetry SDK's own log records
    (ReadableLogRecord: what its OTLP exporters take), with hangar's resource and scope;
    ``extra`` attributes added to (or replacing) hangar's on every record."""
    resource_wire, _scope, record_wire = _template()
    resource = Resource(attrs(WireResource.FromString(resource_wire)))
    template = WireRecord.FromString(record_wire)
    attributes = {**attrs(template), **(extra or {})}
    scope = InstrumentationScope("mcp_hangar.audit")
    out = []
    for n in range(first, first + count):
        context = set_span_in_context(NonRecordingSpan(SpanContext(
            int.from_bytes(trace_id(n), "big"), n, is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED))))
        record = LogRecord(timestamp=_BASE_TIME + n, observed_timestamp=_BASE_TIME + n,
                           context=context, severity_text=template.severity_text,
                           severity_number=SeverityNumber(template.severity_number),
                           body=template.body.string_value, attributes=attributes)
        out.append(ReadableLogRecord(record, resource, scope))
    return out


def sdk_spans(first: int, count: int, extra: dict[str, Any] | None = None
              ) -> list[ReadableSpan]:
    """The spans of calls ``first`` .. ``first + count - 1`` (``sdk_calls`` has their audit
    records) as the OpenTelemetry SDK's own finished spans (ReadableSpan: what its OTLP
    exporters take): hangar's ``batch.call.<tool>`` span with its resource and scope, in the
    call's trace; ``extra`` attributes added to (or replacing) hangar's."""
    resource_wire, scope_wire, span_wire = _span_template()
    resource = Resource(attrs(WireResource.FromString(resource_wire)))
    wire_scope = WireScope.FromString(scope_wire)
    scope = InstrumentationScope(wire_scope.name, wire_scope.version or None)
    template = WireSpan.FromString(span_wire)
    attributes = {**attrs(template), **(extra or {})}
    out = []
    for n in range(first, first + count):
        context = SpanContext(int.from_bytes(trace_id(n), "big"), n | 1 << 63,
                              is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        out.append(ReadableSpan(template.name, context=context, resource=resource,
                                attributes=attributes, kind=SpanKind(max(template.kind - 1, 0)),
                                instrumentation_scope=scope, start_time=_BASE_TIME + n,
                                end_time=_BASE_TIME + n + 1_000_000))
    return out
