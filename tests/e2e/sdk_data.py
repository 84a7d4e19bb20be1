"""Telemetry made by the real OpenTelemetry SDK (spans, log records, metrics), with
every attribute type, events, links, status, severity and body."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

RESOURCE = Resource.create({
    "service.name": "e2e-agent", "service.version": "9.9.9", "deployment.environment": "test",
    "host.cpu.count": 2, "feature.enabled": True, "sample.ratio": 0.25,
})

ATTRIBUTES: dict[str, Any] = {
    "mcp.server.id": "math", "gen_ai.tool.name": "add", "gen_ai.operation.name": "execute_tool",
    "gen_ai.usage.input_tokens": 1200, "flag": False, "ratio": 3.5, "unicode": "héllo ✓",
    "list.str": ["a", "b"], "list.int": [1, 2, 3], "list.float": [0.5, 1.5],
    "list.bool": [True, False], "empty": "",
}


def make_spans(n: int = 5) -> list[Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e.scope", "1.2.3", schema_url="https://example.com/s")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        for i in range(n):
            link = Link(parent.get_span_context(), {"link.attr": i})
            with tracer.start_as_current_span(f"execute_tool add {i}", kind=SpanKind.CLIENT,
                                              attributes=ATTRIBUTES, links=[link]) as span:
                span.add_event("progress", {"step": i, "note": "half"})
                if i % 2:
                    span.set_status(Status(StatusCode.ERROR, "tool failed"))
                    span.record_exception(ValueError("bad input"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


def make_logs(n: int = 5) -> list[Any]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("mcp_hangar.audit", "2.34.4")
    tracer_provider = TracerProvider(resource=RESOURCE)
    with tracer_provider.get_tracer("t").start_as_current_span("ctx"):
        for i in range(n):
            logger.emit(body=f"tool_invocation {i}" if i % 2 else {"kv": "body", "n": i},
                        severity_number=SeverityNumber.WARN if i % 2 else SeverityNumber.INFO,
                        severity_text="WARN" if i % 2 else "INFO",
                        attributes={**ATTRIBUTES, "mcp.event.name": "tool_invocation"})
    provider.shutdown()
    logging.getLogger(__name__).debug("made %d log records", n)
    return list(exporter.get_finished_logs())


def make_metrics() -> Any:
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("e2e.meter", "1.0")
    counter = meter.create_counter("mcp.tool.calls", unit="{call}", description="calls")
    hist = meter.create_histogram("mcp.tool.duration", unit="ms")
    gauge = meter.create_up_down_counter("queue.depth")
    for i in range(10):
        counter.add(1, {"tool": "add" if i % 2 else "multiply"})
        hist.record(i * 1.5, {"tool": "add"})
        gauge.add(-1 if i % 3 else 2)
    data = reader.get_metrics_data()
    provider.shutdown()
    return data


def current_span_context() -> Any:
    return trace.get_current_span().get_span_context()
