"""Load generator: sends pre-serialized OTLP requests to the gateway from its own process.

    python -m bench.loadgen --protocol grpc|http|http-json|sdk --target 127.0.0.1:PORT \
        --payload traces-512 [--rate REQ_PER_S] [--concurrency 8] [--connections 2] \
        [--duration S]

``--rate 0`` (default) is a closed loop: ``concurrency`` requests always in flight, as fast
as the gateway answers. ``--rate R`` is an open loop at R requests/s (for latency at a fixed
offered load and for steady-state memory); a send that finds every slot busy waits and is
counted as ``late``. Every request carries the send time in its latency mark (see
payloads.py). ``sdk`` drives the official ``OTLPSpanExporter`` instead (realism: what a
Python service really sends), from ``concurrency`` threads.

Runs until ``--duration`` or SIGTERM/SIGINT, then prints one JSON line of counters.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bench.payloads import IDENTITY_HEADERS, LATENCY_PLACEHOLDER, Payload, build

_GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_HTTP_PATHS = {"traces": "/v1/traces", "logs": "/v1/logs"}


class Stats:
    def __init__(self) -> None:
        self.sent = 0
        self.ok = 0
        self.items_ok = 0
        self.late = 0
        self.errors: Counter[str] = Counter()

    def json(self) -> bytes:
        return orjson.dumps({"sent": self.sent, "ok": self.ok, "items_ok": self.items_ok,
                             "late": self.late, "errors": dict(self.errors)})


class Stamper:
    """Writes the send time into the latency mark: two slices and one join per request."""

    def __init__(self, body: bytes) -> None:
        pos = body.index(LATENCY_PLACEHOLDER) + len(b"BENCHTS:")
        self.head, self.tail = body[:pos], body[pos + 19:]

    def __call__(self) -> bytes:
        return b"".join((self.head, b"%019d" % time.time_ns(), self.tail))


Senders = tuple[list[Callable[[], Awaitable[None]]], Callable[[], Awaitable[None]]]


async def _grpc_senders(args: argparse.Namespace, payload: Payload, stats: Stats) -> Senders:
    import grpc

    stamp = Stamper(payload.proto)
    metadata = tuple(IDENTITY_HEADERS.items())
    senders, channels = [], []
    for i in range(args.connections):
        # a local subchannel pool per channel = one TCP connection per channel
        channel = grpc.aio.insecure_channel(args.target, options=[
            ("grpc.use_local_subchannel_pool", 1), ("grpc.max_send_message_length", 64 << 20),
            ("grpc.primary_user_agent", f"hangar-bench/{i}")])
        channels.append(channel)
        method = channel.unary_unary(_GRPC_METHODS[payload.signal.value])

        async def send(method: Any = method) -> None:
            try:
                await method(stamp(), metadata=metadata, timeout=30)
            except grpc.aio.AioRpcError as exc:
                stats.errors[exc.code().name] += 1
                return
            stats.ok += 1
            stats.items_ok += payload.items

        senders.append(send)

    async def close() -> None:
        for channel in channels:
            await channel.close()

    return senders, close


async def _http_senders(args: argparse.Namespace, payload: Payload, stats: Stats) -> Senders:
    import aiohttp

    as_json = args.protocol == "http-json"
    stamp = Stamper(payload.json if as_json else payload.proto)
    headers = {**IDENTITY_HEADERS,
               "Content-Type": "application/json" if as_json else "application/x-protobuf"}
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.connections),
                                    timeout=aiohttp.ClientTimeout(total=30))
    url = f"http://{args.target}{_HTTP_PATHS[payload.signal.value]}"

    async def send() -> None:
        try:
            async with session.post(url, data=stamp(), headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    stats.errors[f"HTTP {resp.status}"] += 1
                    return
        except (TimeoutError, aiohttp.ClientError) as exc:
            stats.errors[type(exc).__name__] += 1
            return
        stats.ok += 1
        stats.items_ok += payload.items

    return [send], session.close


async def drive(args: argparse.Namespace, stop: asyncio.Event) -> Stats:
    stats = Stats()
    payload = build(args.payload)
    make = _grpc_senders if args.protocol == "grpc" else _http_senders
    senders, close = await make(args, payload, stats)
    slots = asyncio.Semaphore(args.concurrency)
    deadline = time.monotonic() + args.duration
    tasks: set[asyncio.Task[None]] = set()

    async def one(send: Callable[[], Awaitable[None]]) -> None:
        try:
            await send()
        finally:
            slots.release()

    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    next_at = time.monotonic()
    i = 0
    while not stop.is_set() and time.monotonic() < deadline:
        if interval:
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            next_at += interval
        if slots.locked() and interval:
            stats.late += 1
        await slots.acquire()
        stats.sent += 1
        task = asyncio.ensure_future(one(senders[i % len(senders)]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    await close()
    return stats


def drive_sdk(args: argparse.Namespace, stop: threading.Event) -> Stats:
    """The official exporter, fed ReadableSpans made once by the SDK from the payload."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from bench.payloads import RESOURCE, traces

    msg = traces(int(args.payload.rsplit("-", 1)[1]))
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for ss in msg.resource_spans[0].scope_spans:
        tracer = provider.get_tracer(ss.scope.name)
        for sp in ss.spans:
            attrs = {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in
                     sp.attributes if kv.key != "bench.sent_ns"}
            tracer.start_span(sp.name, attributes=attrs,
                              start_time=sp.start_time_unix_nano).end(sp.end_time_unix_nano)
    spans = memory.get_finished_spans()
    stats = Stats()
    lock = threading.Lock()
    deadline = time.monotonic() + args.duration

    def worker() -> None:
        exporter = OTLPSpanExporter(endpoint=args.target, insecure=True,
                                    headers=IDENTITY_HEADERS, timeout=30)
        while not stop.is_set() and time.monotonic() < deadline:
            result = exporter.export(spans)
            with lock:
                stats.sent += 1
                if result is SpanExportResult.SUCCESS:
                    stats.ok += 1
                    stats.items_ok += len(spans)
                else:
                    stats.errors["export failed"] += 1
        exporter.shutdown()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.duration + 35)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--protocol", choices=["grpc", "http", "http-json", "sdk"],
                        default="grpc")
    parser.add_argument("--target", required=True, help="host:port of the gateway")
    parser.add_argument("--payload", default="traces-512")
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s; 0 = closed loop")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--duration", type=float, default=3600.0)
    args = parser.parse_args(argv)

    if args.protocol == "sdk":
        tstop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: tstop.set())
        stats = drive_sdk(args, tstop)
    else:
        async def run() -> Stats:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            return await drive(args, stop)

        stats = new_runner_run(run)
    sys.stdout.buffer.write(stats.json() + b"\n")
    sys.stdout.flush()
    return 0


def new_runner_run(fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine function on uvloop when installed (as the gateway does)."""
    runner = asyncio.Runner()
    with contextlib.suppress(ImportError):
        import uvloop
        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    with runner:
        return runner.run(fn())  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
