"""Issue 2 "done when": the OpenTelemetry Python SDK sends spans, logs and metrics over
gRPC, HTTP/protobuf and HTTP/JSON through a chain of two gateway processes into a
downstream OTLP receiver, and they arrive unchanged."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.protobuf import json_format
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

from hangar_otelcol.pdata import REQUEST_TYPES, Signal
from tests.support import configs, sdk_data
from tests.support.gateway import run_gateway
from tests.support.sinks import GrpcSink


def chain_config(name: str, exporter: dict[str, Any]) -> str:
    """OTLP in, batch, one exporter for all three signals, self-metrics on {metrics}."""
    return configs.gateway(
        {signal: {"receivers": ["otlp"], "processors": ["batch"], "exporters": [name]}
         for signal in ("traces", "logs", "metrics")},
        processors={"batch": {"timeout": "50ms"}}, exporters={name: exporter},
        metrics="127.0.0.1:{metrics}")


@pytest.fixture
async def sink() -> AsyncIterator[GrpcSink]:
    s = await GrpcSink().start()
    yield s
    await s.stop()


def merged(sink: GrpcSink, signal: Signal) -> Any:
    return REQUEST_TYPES[signal].FromString(b"".join(sink.requests(signal)))


def to_otlp_json(message: Any) -> bytes:
    """OTLP/JSON written independently of the gateway's codec: json_format, then hex ids."""
    data = json_format.MessageToDict(message, use_integers_for_enums=True)

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(data)
    import orjson

    return orjson.dumps(data)


@pytest.mark.parametrize("client", ["grpc", "http/protobuf", "http/json"])
async def test_sdk_data_arrives_unchanged_through_two_gateways(
        tmp_path: Path, sink: GrpcSink, client: str) -> None:
    # gateway B: receives from A over OTLP/HTTP, forwards to the sink over OTLP/gRPC
    b_config = chain_config("otlp", configs.otlp_out(sink.port))
    with run_gateway(tmp_path, b_config, "b") as gw_b:
        a_config = chain_config("otlp_http",
                                {"endpoint": f"http://127.0.0.1:{gw_b.ports['http']}"})
        with run_gateway(tmp_path, a_config, "a") as gw_a:
            spans, logs, metrics = sdk_data.make_spans(), sdk_data.make_logs(), \
                sdk_data.make_metrics()
            expected = {Signal.TRACES: encode_spans(spans), Signal.LOGS: encode_logs(logs),
                        Signal.METRICS: encode_metrics(metrics)}
            await send(client, gw_a.ports, spans, logs, metrics, expected)
            await sink.wait_for_items("traces", len(spans))
            await sink.wait_for_items("logs", len(logs))
            await sink.wait_for_items("metrics", 1)
    for signal, message in expected.items():
        assert merged(sink, signal) == message, f"{signal.value} changed on the way"


async def send(client: str, ports: dict[str, int], spans: Any, logs: Any, metrics: Any,
               expected: dict[Signal, Any]) -> None:
    from opentelemetry.sdk._logs.export import LogRecordExportResult
    from opentelemetry.sdk.metrics.export import MetricExportResult
    from opentelemetry.sdk.trace.export import SpanExportResult

    if client == "grpc":
        endpoint = f"127.0.0.1:{ports['grpc']}"
        assert GrpcSpans(endpoint=endpoint, insecure=True).export(spans) == \
            SpanExportResult.SUCCESS
        assert GrpcLogs(endpoint=endpoint, insecure=True).export(logs) == \
            LogRecordExportResult.SUCCESS
        assert GrpcMetrics(endpoint=endpoint, insecure=True).export(metrics) == \
            MetricExportResult.SUCCESS
    elif client == "http/protobuf":
        base = f"http://127.0.0.1:{ports['http']}"
        assert HttpSpans(endpoint=f"{base}/v1/traces").export(spans) == SpanExportResult.SUCCESS
        assert HttpLogs(endpoint=f"{base}/v1/logs").export(logs) == LogRecordExportResult.SUCCESS
        assert HttpMetrics(endpoint=f"{base}/v1/metrics").export(metrics) == \
            MetricExportResult.SUCCESS
    else:  # OTLP/JSON: no Python SDK exporter speaks it, so post what the SDK encoded
        async with aiohttp.ClientSession() as session:
            for signal, message in expected.items():
                async with session.post(
                        f"http://127.0.0.1:{ports['http']}/v1/{signal.value}",
                        data=to_otlp_json(message),
                        headers={"Content-Type": "application/json"}) as resp:
                    assert resp.status == 200, await resp.text()
                    assert resp.headers["Content-Type"].startswith("application/json")
