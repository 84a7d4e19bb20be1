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
