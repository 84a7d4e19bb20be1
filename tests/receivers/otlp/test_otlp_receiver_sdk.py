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

from hangar_otelcol import otlpjson
from hangar_otelcol.pdata import Signal
from tests.support.sdk_data import make_logs, make_metrics, make_spans


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
