"""Downstream sink: a raw OTLP server (gRPC and HTTP) that counts what the gateway exports.

    python -m bench.sink --grpc-port P --http-port Q

Requests are parsed only to count spans / log records (upb, ~0.6 us per span, on the
sink's CPU, which is not the gateway's). The latency mark the load generator wrote into
the first item of each request is read back with ``bytes.find``: latency = now - sent.
Control on the HTTP port: ``GET /stats`` (JSON counters + latency samples since the
last reset) and ``POST /reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

import grpc
import orjson
from aiohttp import web

from bench.loadgen import new_runner_run
from bench.payloads import LATENCY_MARK, TS_DIGITS
from hangar_otelcol.pdata import Signal, decode

_METHODS = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export": Signal.TRACES,
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export": Signal.LOGS,
}
_PATHS = {"/v1/traces": Signal.TRACES, "/v1/logs": Signal.LOGS}
MAX_SAMPLES = 200_000


class Counts:
    def __init__(self) -> None:
        self.items = {Signal.TRACES: 0, Signal.LOGS: 0, Signal.METRICS: 0}
        self.requests = 0
        self.bytes = 0
        self.latencies_ms: list[float] = []

    def record(self, signal: Signal, wire: bytes) -> None:
        now = time.time_ns()
        self.requests += 1
        self.bytes += len(wire)
        self.items[signal] += decode(signal, wire).item_count
        pos = wire.find(LATENCY_MARK)
        while pos >= 0:
            start = pos + len(LATENCY_MARK)
            digits = wire[start:start + TS_DIGITS]
            if digits.isdigit():
                sent = int(digits)
                if sent and len(self.latencies_ms) < MAX_SAMPLES:
                    self.latencies_ms.append((now - sent) / 1e6)
            pos = wire.find(LATENCY_MARK, start)

    def snapshot(self) -> dict[str, object]:
        return {"spans": self.items[Signal.TRACES], "log_records": self.items[Signal.LOGS],
                "requests": self.requests, "bytes": self.bytes,
                "latencies_ms": self.latencies_ms}


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, counts: Counts) -> None:
        self.counts = counts

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        signal_ = _METHODS.get(details.method)
        if signal_ is None and details.method.endswith("MetricsService/Export"):
            signal_ = Signal.METRICS
        if signal_ is None:
            return None
        counts = self.counts

        async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            counts.record(signal_, request)
            return b""

        # raw bytes in and out: no (de)serializer
        return grpc.unary_unary_rpc_method_handler(export)


async def serve(grpc_port: int, http_port: int) -> None:
    counts = Counts()
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 256 << 20)])
    server.add_generic_rpc_handlers([_Handler(counts)])
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    await server.start()

    async def otlp_http(request: web.Request) -> web.Response:
        body = await request.read()
        if request.content_type == "application/json":
            return web.Response(status=415, text="the bench sink takes protobuf only")
        counts.record(_PATHS[request.path], body)
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def stats(_: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(counts.snapshot()),
                            content_type="application/json")

    async def reset(_: web.Request) -> web.Response:
        counts.latencies_ms = []
        return web.Response(text="ok")

    app = web.Application(client_max_size=256 << 20)
    app.router.add_post("/v1/traces", otlp_http)
    app.router.add_post("/v1/logs", otlp_http)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    print("ready", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0.5)
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    new_runner_run(lambda: serve(args.grpc_port, args.http_port))


if __name__ == "__main__":
    main()
