"""Spans, log records and metrics made by the real OpenTelemetry Python SDK: every
attribute type, events, links, status, severity, event names, string/map/bytes bodies and
every instrument kind. Compare what arrives with the SDK's own OTLP encoders of the same data
(``encode_spans`` and friends)."""

from __future__ import annotations

from typing import Any

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

RESOURCE = Resource.create({"service.name": "mcp-hangar", "service.version": "2.34.4",
                            "deployment.environment": "test", "host.cores": 2})
ATTRS = {
    "str": "héllo wörld ✓", "empty": "", "bool": True, "false": False, "int": 42,
    "neg": -7, "big": 2**63 - 1, "float": 3.25, "strs": ["a", "b"], "ints": [1, 2, 3],
    "floats": [0.5, 1.5], "bools": [True, False], "gen_ai.tool.name": "get_weather",
}


def make_spans() -> list[Any]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("mcp-python-sdk", "1.2.3", attributes={"scope.attr": "x"})
    with tracer.start_as_current_span("tools/call get_weather", kind=SpanKind.SERVER,
                                      attributes=ATTRS) as parent:
        parent.add_event("tool_invocation", {"mcp.tool.status": "success", "n": 1})
        parent.add_event("plain")
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT,
                                          links=[Link(parent.get_span_context(),
                                                      {"link.attr": 1.5})]) as child:
            child.set_status(Status(StatusCode.ERROR, "boom: tool failed"))
            child.record_exception(ValueError("bad input"))
    with tracer.start_as_current_span("second root", kind=SpanKind.INTERNAL) as other:
        other.set_status(Status(StatusCode.OK))
    provider.shutdown()
    return list(memory.get_finished_spans())


def make_logs() -> list[Any]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = provider.get_logger("mcp_hangar.audit", "2.0")
    tracer_provider = TracerProvider(resource=RESOURCE)
    with tracer_provider.get_tracer("t").start_as_current_span("s"):
        logger.emit(severity_number=SeverityNumber.INFO, severity_text="INFO",
                    body="tool_invocation", attributes={**ATTRS, "mcp.event.name":
                                                        "tool_invocation"},
                    event_name="mcp.tool")
    logger.emit(severity_number=SeverityNumber.ERROR, severity_text="ERROR",
                body={"nested": {"list": [1, "two", 3.0]}, "ok": False})
    logger.emit(severity_number=SeverityNumber.WARN, body=b"\x00\xffbinary")
    provider.shutdown()
    return list(memory.get_finished_logs())


def make_metrics() -> Any:  # MetricsData
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("hangar.cost", "1.0")
    meter.create_counter("calls", unit="1", description="tool calls").add(3, {"tool": "a"})
    meter.create_up_down_counter("inflight").add(-2, {"tool": "b"})
    meter.create_histogram("duration", unit="ms").record(12.5, {"tool": "a"})
    meter.create_gauge("temperature").set(21.5)
    meter.create_counter("cents").add(2.5)
    data = reader.get_metrics_data()
    provider.shutdown()
    return data
