"""Server CPU per span of the otlp receiver (not a test).

The receiver runs in this process behind a pass-through consumer that takes each
request's wire bytes (what an OTLP exporter would send); a client in a child
process keeps 8 requests of 512 spans in flight. Reported: spans per
server CPU-second (the per-core figure of python-performance.md), for gRPC,
HTTP/protobuf and HTTP/JSON.

Run: .venv/bin/python -m tests.receivers.otlp.bench_otlp_receiver
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time

from hangar_otelcol import otlpjson
from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.receivers.otlp.factory import FACTORY
from hangar_otelcol.testing import StandaloneHost, free_port, make_settings
from tests.runtime.bench_decode import build_request

REQUESTS = 300
SPANS = 512


class PassThrough:
    mutates_data = False

    def __init__(self) -> None:
        self.spans = 0

    async def consume(self, batch: Batch) -> None:
        batch.wire()
        self.spans += batch.item_count


def client(mode: str, target: str, body: bytes) -> None:
    async def run() -> None:
        if mode == "grpc":
            import grpc
            channels = [grpc.aio.insecure_channel(target) for _ in range(2)]
            calls = [c.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
                     for c in channels]

            async def worker(i: int) -> None:
                for _ in range(REQUESTS // 8):
                    await calls[i % 2](body, timeout=30)
            await asyncio.gather(*(worker(i) for i in range(8)))
        else:
            import aiohttp
            ctype = "application/json" if mode == "json" else "application/x-protobuf"
            async with aiohttp.ClientSession() as session:
                async def worker(i: int) -> None:
                    for _ in range(REQUESTS // 8):
                        async with session.post(target, data=body,
                                                headers={"Content-Type": ctype}) as r:
                            assert r.status == 200
                            await r.read()
                await asyncio.gather(*(worker(i) for i in range(8)))
    asyncio.run(run())


async def measure(mode: str) -> None:
    gport, hport = free_port(), free_port()
    config = build(FACTORY.config_class, {"protocols": {
        "grpc": {"endpoint": f"127.0.0.1:{gport}"}, "http": {"endpoint": f"127.0.0.1:{hport}"}}})
    sink = PassThrough()
    receiver = FACTORY.create(make_settings(Kind.RECEIVER, "otlp"), config, {Signal.TRACES: sink})
    await receiver.start(StandaloneHost())
    request = build_request(SPANS)
    body = (otlpjson.encode(Signal.TRACES, request) if mode == "json"
            else request.SerializeToString())
    target = (f"127.0.0.1:{gport}" if mode == "grpc"
              else f"http://127.0.0.1:{hport}/v1/traces")
    proc = multiprocessing.get_context("spawn").Process(target=client, args=(mode, target, body))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    proc.start()
    while proc.is_alive():
        await asyncio.sleep(0.05)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await receiver.shutdown()
    assert sink.spans == REQUESTS // 8 * 8 * SPANS, sink.spans
    print(f"{mode:<6} {sink.spans / cpu:>12,.0f} spans per server CPU-second "
          f"({sink.spans / wall:,.0f} spans/s wall, client on the same cores)")


if __name__ == "__main__":
    for mode in sys.argv[1:] or ["grpc", "http", "json"]:
        asyncio.run(measure(mode))
