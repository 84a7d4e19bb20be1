"""The OpenTelemetry Python SDK sends spans, logs and metrics to the receiver over
gRPC, HTTP/protobuf and HTTP/JSON; everything arrives unchanged.

"Unchanged" = the received request equals what the SDK's own OTLP encoder makes
of the same data (resource, scope, ids, attributes of every type, events, links,
status, severity, body, metric points), plus spot checks a user would make.
The SDK exporters are blocking, so they run in a thread while the loop serves.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetrics,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetrics,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from hangar_otelcol import otlpjson
from hangar_otelcol.pdata import Signal

RESOURCE = Resource.create({"service.name": "mcp-hangar", "service.version": "2.34.4",
                            "deployment.environment": "test", "host.cores": 2})
ATTRS = {
    "str": "héllo wörld ✓", "empty": "", "bool": True, "false": False, "int": 42,
    "neg": -7, "big": 2**63 - 1, "float": 3.25, "strs": ["a", "b"], "ints": [1, 2, 3],
    "floats": [0.5, 1.5], "bools": [True, False], "gen_ai.tool.name": "get_weather",
}


def make_spans() -> list:
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
    with tracer.start_as_current_span("second root", kind=SpanKind.INTERNAL) as other:
        other.set_status(Status(StatusCode.OK))
    provider.shutdown()
    return list(memory.get_finished_spans())


def make_logs() -> list:
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


def make_metrics():  # -> MetricsData
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


async def export(exporter, items) -> object:
    try:
        return await asyncio.to_thread(exporter.export, items)
    finally:
        await asyncio.to_thread(exporter.shutdown)


def received(running, signal: Signal):
    batches = running.consumers[signal].batches
    assert len(batches) == 1, f"expected one request, got {len(batches)}"
    (part,) = batches[0].parts
    return part


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_sdk_spans_arrive_unchanged(start_receiver, transport):
    running = await start_receiver()
    spans = make_spans()
    if transport == "grpc":
        exporter = GrpcSpans(endpoint=running.grpc_target, insecure=True,
                             headers={"x-api-key": "k1"})
    else:
        exporter = HttpSpans(endpoint=running.url(Signal.TRACES), headers={"x-api-key": "k1"})
    result = await export(exporter, spans)
    assert result.name == "SUCCESS"
    part = received(running, Signal.TRACES)
    assert part.message == encode_spans(spans)
    assert part.sender.transport == transport
    assert part.sender.peer == "127.0.0.1"
    assert part.sender.metadata["x-api-key"] == "k1"
    got = {s.name: s for ss in part.message.resource_spans[0].scope_spans for s in ss.spans}
    parent, child = got["tools/call get_weather"], got["child"]
    assert parent.span_id == spans[1].context.span_id.to_bytes(8, "big")
    assert child.parent_span_id == parent.span_id
    assert child.links[0].span_id == parent.span_id
    assert child.status.message == "boom: tool failed"
    assert [e.name for e in parent.events] == ["tool_invocation", "plain"]
    assert running.metric("otelcol_receiver_accepted_spans_total", "otlp", transport) == 3


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_sdk_logs_arrive_unchanged(start_receiver, transport):
    running = await start_receiver()
    logs = make_logs()
    exporter = (GrpcLogs(endpoint=running.grpc_target, insecure=True) if transport == "grpc"
                else HttpLogs(endpoint=running.url(Signal.LOGS)))
    result = await export(exporter, logs)
    assert result.name == "SUCCESS"
    part = received(running, Signal.LOGS)
    assert part.message == encode_logs(logs)
    records = part.message.resource_logs[0].scope_logs[0].log_records
    assert records[0].body.string_value == "tool_invocation"
    assert records[0].severity_number == SeverityNumber.INFO.value
    assert records[0].event_name == "mcp.tool"
    assert len(records[0].trace_id) == 16
    assert records[2].body.bytes_value == b"\x00\xffbinary"


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_sdk_metrics_pass_through(start_receiver, transport):
    running = await start_receiver()
    data = make_metrics()
    exporter = (GrpcMetrics(endpoint=running.grpc_target, insecure=True)
                if transport == "grpc" else HttpMetrics(endpoint=running.url(Signal.METRICS)))
    result = await export(exporter, data)
    assert result.name == "SUCCESS"
    part = received(running, Signal.METRICS)
    assert part.message == encode_metrics(data)
    names = {m.name for m in part.message.resource_metrics[0].scope_metrics[0].metrics}
    assert names == {"calls", "inflight", "duration", "temperature", "cents"}
    assert part.item_count == 5


@pytest.mark.parametrize("signal", list(Signal))
async def test_otlp_json_from_sdk_data_arrives_unchanged(start_receiver, signal):
    """No Python SDK exporter speaks OTLP/JSON: send the SDK's data as OTLP/JSON."""
    running = await start_receiver()
    expected = {Signal.TRACES: lambda: encode_spans(make_spans()),
                Signal.LOGS: lambda: encode_logs(make_logs()),
                Signal.METRICS: lambda: encode_metrics(make_metrics())}[signal]()
    body = otlpjson.encode(signal, expected)
    async with aiohttp.ClientSession() as session, session.post(
            running.url(signal), data=body,
            headers={"Content-Type": "application/json; charset=utf-8"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        assert await resp.json() == {}
    part = received(running, signal)
    assert part.message == expected
    assert part.sender.metadata["content-type"] == "application/json; charset=utf-8"
