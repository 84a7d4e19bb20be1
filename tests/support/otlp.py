"""OTLP requests for tests: small builders, and readers that flatten what arrived."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.pdata import Batch, Signal, decode

#: (resource groups, scope groups, items) of each signal's request
_LAYOUT = {
    Signal.TRACES: ("resource_spans", "scope_spans", "spans"),
    Signal.LOGS: ("resource_logs", "scope_logs", "log_records"),
    Signal.METRICS: ("resource_metrics", "scope_metrics", "metrics"),
}


def items(signal: Signal | str, message: Any) -> Iterator[tuple[Any, Any, Any]]:
    """(resource, scope, item) of every span, log record or metric of a request."""
    groups, scoped, leaves = _LAYOUT[Signal(signal)]
    for group in getattr(message, groups):
        for scope_group in getattr(group, scoped):
            for item in getattr(scope_group, leaves):
                yield group.resource, scope_group.scope, item


def attrs(obj: Any) -> dict[str, Any]:
    """Attributes of a record, span or resource (or a list of KeyValues) as a plain dict."""
    out = {}
    kvs: Iterable[Any] = getattr(obj, "attributes", obj)
    for kv in kvs:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which else None
    return out


def trace_batch(n: int, name: str = "tools/call add", service: str = "math") -> Batch:
    """``n`` spans named ``"<name> <i>"`` in one request, with wire bytes."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    ss = rs.scope_spans.add()
    ss.scope.name = "mcp_hangar"
    for i in range(n):
        span = ss.spans.add(name=f"{name} {i}", trace_id=bytes([i % 256] * 16),
                            span_id=bytes([1 + i % 255] * 8), start_time_unix_nano=1_000 + i,
                            end_time_unix_nano=2_000 + i)
        a = span.attributes.add()
        a.key, a.value.int_value = "gen_ai.usage.input_tokens", i
    return _batch(Signal.TRACES, req)


def log_batch(n: int) -> Batch:
    req = ExportLogsServiceRequest()
    sl = req.resource_logs.add().scope_logs.add()
    for i in range(n):
        sl.log_records.add(time_unix_nano=i + 1).body.string_value = f"log {i}"
    return _batch(Signal.LOGS, req)


def metric_batch(n: int) -> Batch:
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    m = sm.metrics.add(name="mcp.cost.cents")
    m.sum.aggregation_temporality = 2
    m.sum.is_monotonic = True
    for i in range(n):
        m.sum.data_points.add(as_int=i, time_unix_nano=i + 1)
    return _batch(Signal.METRICS, req)


def _batch(signal: Signal, req: Any) -> Batch:
    # decoded from the bytes: the part holds its wire bytes, as a receiver makes it
    return Batch(signal, [decode(signal, req.SerializeToString())])
