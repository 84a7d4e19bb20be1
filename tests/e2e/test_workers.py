"""`hangar-otelcol --workers 2`: two gateway processes share the OTLP port (SO_REUSEPORT),
both deliver, and SIGTERM to the supervisor stops everything with exit 0."""

from __future__ import annotations

from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.gateway import run_gateway
from tests.support.metrics import scrape, series
from tests.support.sinks import GrpcSink
from tests.support.waiting import eventually

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
    sink = await GrpcSink().start()
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
            await sink.wait_for_items("traces", 8)
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


def _audit_request(call: int) -> bytes:
    """One audit record of one call (its own time: a record id of its own)."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
        ExportLogsServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    req = ExportLogsServiceRequest()
    rec = req.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=call + 1)
    for key, value in (("mcp.event.name", "tool_invocation"), ("mcp.server.id", "pg"),
                       ("gen_ai.tool.name", "query"), ("mcp.tool.status", "success")):
        rec.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    rec.attributes.append(KeyValue(key="mcp.tool.duration_ms",
                                   value=AnyValue(double_value=12.0)))
    return req.SerializeToString()


async def test_counters_on_worker_0_include_every_worker(tmp_path: Path) -> None:
    """Each connection lands on one of the two workers; the prometheus exporter and the
    self-metrics on the configured ports still count every call once (the workers' shares
    are merged from prometheus-client multiprocess files, flushed about once a second)."""
    calls = 24
    with run_gateway(tmp_path, COUNTING, extra_args=["--workers", "2"]) as gw:
        for call in range(calls):  # one connection per call: the kernel spreads connections
            async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports['grpc']}") as ch:
                await ch.unary_unary(LOGS_EXPORT)(_audit_request(call), timeout=10)
        got: dict[str, dict] = {}

        async def every_call_counted() -> bool:
            got["tools"], got["self"] = await scrape(gw.ports["prom"]), \
                await scrape(gw.ports["metrics"])
            return (series(got["tools"], "mcp_hangar_tool_calls_total", mcp_server="pg",
                           status="success", tool="query") == calls
                    and series(got["self"], "otelcol_receiver_accepted_log_records_total",
                               receiver="otlp", transport="grpc") == calls)

        await eventually(every_call_counted, 10, lambda: f"{calls} calls counted on worker 0 "
                         f"(tools {got['tools']}, self-metrics {got['self']})", interval=0.2)
        # the histogram is merged too: 12 ms per call, cumulative buckets, count and sum
        hist, tools = "mcp_hangar_tool_call_duration_seconds", got["tools"]
        labels = {"mcp_server": "pg", "tool": "query"}
        assert tools[(f"{hist}_bucket", frozenset({**labels, "le": "0.01"}.items()))] == 0
        assert series(tools, f"{hist}_bucket", le="0.025", **labels) == calls
        assert series(tools, f"{hist}_count", **labels) == calls
        assert abs(series(tools, f"{hist}_sum", **labels) - calls * 0.012) < 1e-9
