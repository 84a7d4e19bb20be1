"""`hangar-otelcol --workers 2`: two gateway processes share the OTLP port (SO_REUSEPORT),
both deliver, and SIGTERM to the supervisor stops everything with exit 0."""

from __future__ import annotations

from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.testing import free_port
from tests.e2e.gateway import Sink, run_gateway

CONFIG = """
extensions: {{health_check: {{endpoint: "127.0.0.1:{{health}}"}}}}
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:{{grpc}}"}}}}}}
exporters:
  otlp: {{endpoint: "127.0.0.1:{sink}", tls: {{insecure: true}}}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp]}}
"""
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


async def test_two_workers_share_the_port_and_stop_cleanly(tmp_path: Path) -> None:
    sink = Sink(free_port())
    await sink.start()
    try:
        with run_gateway(tmp_path, CONFIG.format(sink=sink.port),
                         extra_args=["--workers", "2"]) as gw:
            assert len(children(gw.process.pid)) == 2
            req = ExportTraceServiceRequest()
            req.resource_spans.add().scope_spans.add().spans.add(name="s")
            # separate channels are separate connections, which the kernel spreads
            for _ in range(8):
                async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports['grpc']}") as ch:
                    await ch.unary_unary(EXPORT)(req.SerializeToString(), timeout=10)
            await sink.wait_for("traces", 8)
    finally:
        await sink.stop()


COUNTING = """
extensions:
  health_check:
    endpoint: "127.0.0.1:{health}"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: "127.0.0.1:{grpc}"
exporters:
  prometheus:
    endpoint: "127.0.0.1:{prom}"
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: "127.0.0.1:{metrics}"
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [prometheus]
"""
LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def _audit_request() -> bytes:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    req = ExportLogsServiceRequest()
    rec = req.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=1)
    for key, value in (("mcp.event.name", "tool_invocation"), ("mcp.server.id", "pg"),
                       ("gen_ai.tool.name", "query"), ("mcp.tool.status", "success")):
        rec.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    rec.attributes.append(KeyValue(key="mcp.tool.duration_ms",
                                   value=AnyValue(double_value=12.0)))
    return req.SerializeToString()


def _scrape(port: int) -> dict[str, float]:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name + "".join(f",{k}={v}" for k, v in sorted(sample.labels.items()))
            out[key] = out.get(key, 0.0) + sample.value
    return out


async def test_counters_on_worker_0_include_every_worker(tmp_path: Path) -> None:
    """Each connection lands on one of the two workers; the prometheus exporter and the
    self-metrics on the configured ports still count every call once (the workers' shares
    are merged from prometheus-client multiprocess files, flushed about once a second)."""
    import asyncio
    import time

    calls = 24
    with run_gateway(tmp_path, COUNTING, extra_args=["--workers", "2"]) as gw:
        body = _audit_request()
        for _ in range(calls):  # one connection per call: the kernel spreads connections
            async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports['grpc']}") as ch:
                await ch.unary_unary(LOGS_EXPORT)(body, timeout=10)
        calls_key = "mcp_hangar_tool_calls_total,mcp_server=pg,status=success,tool=query"
        accepted_key = ("otelcol_receiver_accepted_log_records_total,receiver=otlp,"
                        "transport=grpc")
        deadline = time.monotonic() + 10
        while True:
            tools, self_metrics = _scrape(gw.ports["prom"]), _scrape(gw.ports["metrics"])
            if tools.get(calls_key) == calls and self_metrics.get(accepted_key) == calls:
                break
            assert time.monotonic() < deadline, (tools.get(calls_key),
                                                 self_metrics.get(accepted_key))
            await asyncio.sleep(0.2)
        # the histogram is merged too: 12 ms per call, cumulative buckets, count and sum
        hist = "mcp_hangar_tool_call_duration_seconds"
        labels = ",mcp_server=pg,tool=query"
        assert tools[f"{hist}_bucket,le=0.01,mcp_server=pg,tool=query"] == 0
        assert tools[f"{hist}_bucket,le=0.025,mcp_server=pg,tool=query"] == calls
        assert tools[f"{hist}_count{labels}"] == calls
        assert abs(tools[f"{hist}_sum{labels}"] - calls * 0.012) < 1e-9
