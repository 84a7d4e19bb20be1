"""Issue 2 "done when": SIGTERM under load exits 0 within the deadline, and everything
the gateway accepted (answered OK) was delivered downstream."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.gateway import run_gateway
from tests.support.sinks import GrpcSink

CONFIG = """
extensions: {{health_check: {{endpoint: "127.0.0.1:{{health}}"}}}}
receivers:
  otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:{{grpc}}"}}}}}}
processors:
  batch: {{timeout: 200ms, send_batch_size: 4096}}
exporters:
  otlp: {{endpoint: "127.0.0.1:{sink}", tls: {{insecure: true}}, compression: none}}
service:
  extensions: [health_check]
  shutdown_timeout: 10s
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [otlp]}}
"""

SPANS_PER_REQUEST = 64
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def request(n: int) -> bytes:
    req = ExportTraceServiceRequest()
    spans = req.resource_spans.add().scope_spans.add().spans
    for i in range(SPANS_PER_REQUEST):
        span = spans.add(name=f"req{n}-span{i}", trace_id=n.to_bytes(16, "big"),
                         span_id=(i + 1).to_bytes(8, "big"))
        span.attributes.add(key="i", value={"int_value": i})
    return req.SerializeToString()


async def test_sigterm_under_load_delivers_everything_accepted(tmp_path: Path) -> None:
    sink = await GrpcSink().start()
    accepted = 0
    try:
        with run_gateway(tmp_path, CONFIG.format(sink=sink.port)) as gw:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports['grpc']}") as channel:
                export = channel.unary_unary(EXPORT)

                cut_short: list[int] = []

                async def client(worker: int) -> int:
                    ok = 0
                    deadline = time.monotonic() + 20  # bounded in time and in count
                    for n in range(100_000):
                        if time.monotonic() > deadline:
                            break
                        try:
                            await export(request(worker * 100_000 + n), timeout=5)
                            ok += 1
                        except grpc.aio.AioRpcError:
                            cut_short.append(worker)  # refused or gone: the gateway stops
                            break
                    return ok

                clients = [asyncio.create_task(client(w)) for w in range(4)]
                await asyncio.sleep(0.5)  # under load
                assert not any(c.done() for c in clients), "load ended before SIGTERM"
                started = time.monotonic()
                gw.process.send_signal(signal.SIGTERM)
                results = await asyncio.gather(*clients)
                assert sorted(cut_short) == [0, 1, 2, 3]  # SIGTERM came in the middle
                accepted = sum(results) * SPANS_PER_REQUEST
                code = await asyncio.to_thread(gw.process.wait, 15)
                elapsed = time.monotonic() - started
            assert code == 0, gw.stderr()
            assert elapsed < 10 + 2, f"shutdown took {elapsed:.1f}s"
            assert accepted > 0
            await sink.wait_for_items("traces", accepted, timeout=5)
    finally:
        await sink.stop()
