"""In-process cost of a pipeline, without transport: a steadier A/B tool than the full bench.

Builds the gateway from a bench config (real components, real OTLP exporter to a real
``bench.sink`` subprocess), then calls the otlp receiver's consumers directly with
``pdata.decode(payload)`` in a loop and reports CPU microseconds per item of this process
(decode + processors + exporters + the exporter's gRPC client). Receiving over the network
is what it leaves out; use it to compare code changes, and ``python -m bench`` for the
figures of record.

    .venv/bin/python -m bench.inproc --config enrich.yaml --payload traces-512
    .venv/bin/python -m bench.inproc --config full.yaml --payload traces-512 --payload logs-512
    .venv/bin/python -m bench.inproc ... --cprofile 25    # top functions by own time
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from bench.payloads import Payload, build
from bench.run import BENCH_DIR, Sink
from hangar_otelcol.component import ComponentID
from hangar_otelcol.config.loader import load
from hangar_otelcol.config.model import validate
from hangar_otelcol.pdata import Batch, Sender, decode
from hangar_otelcol.registry import default_registry
from hangar_otelcol.service import Service
from hangar_otelcol.testing import free_port

#: what the bench load generator sends as hangar's identity headers
SENDER = Sender("grpc", "127.0.0.1", {"x-mcp-caller-id": "alice@example.com",
                                      "x-mcp-caller-type": "user"})


async def _measure(config_name: str, payloads: list[Payload], seconds: float, runs: int,
                   profile: cProfile.Profile | None) -> list[float]:
    workdir = Path(tempfile.mkdtemp(prefix="hangar-inproc-"))
    sink = Sink(workdir)
    os.environ.update({
        "BENCH_GRPC_PORT": str(free_port()), "BENCH_HTTP_PORT": str(free_port()),
        "BENCH_METRICS_PORT": str(free_port()), "BENCH_PROM_PORT": str(free_port()),
        "BENCH_SINK_GRPC_PORT": str(sink.grpc_port), "BENCH_OUT_DIR": str(workdir),
    })
    try:
        path = Path(config_name)
        if not path.exists():
            path = BENCH_DIR / "configs" / config_name
        config = validate(load([str(path)]), default_registry())
        service = Service(config)
        await service.start()
        consumers = service.graph.receivers[ComponentID.parse("otlp")].consumers
        items_per_round = sum(p.items for p in payloads)

        async def one_round() -> None:
            for p in payloads:
                await consumers[p.signal].consume(Batch(p.signal, [decode(p.signal, p.proto,
                                                                          SENDER)]))
                # as between two requests of a real receiver: writers and senders run
                await asyncio.sleep(0)

        if config.service.tune_allocator:  # as Service.run does after start-up
            gc.freeze()
        for _ in range(20):  # warm-up: caches, connections
            await one_round()
        rates = []
        for _ in range(runs):
            gc.collect()
            rounds = 0
            start_cpu, deadline = time.process_time(), time.monotonic() + seconds
            if profile is not None:
                profile.enable()
            while time.monotonic() < deadline:
                await one_round()
                rounds += 1
            if profile is not None:
                profile.disable()
            cpu = time.process_time() - start_cpu
            rates.append(cpu * 1e6 / (rounds * items_per_round))
        service.request_stop()
        await service.shutdown()
        return rates
    finally:
        sink.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.inproc", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="enrich.yaml", help="a file in bench/configs/, or a path")
    ap.add_argument("--payload", action="append", help="traces-512, traces-all-512, logs-512")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of one run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cprofile", type=int, default=0, metavar="N",
                    help="print the N functions with the most own time")
    args = ap.parse_args(argv)
    payloads = [build(name) for name in (args.payload or ["traces-512"])]
    profile = cProfile.Profile() if args.cprofile else None
    rates = asyncio.run(_measure(args.config, payloads, args.seconds, args.runs, profile))
    med = statistics.median(rates)
    names = "+".join(p.name for p in payloads)
    # the minimum is the steadiest figure on a shared machine (noise only adds time)
    print(f"{args.config} {names}: min {min(rates):.2f}, median {med:.2f} us/item CPU "
          f"({', '.join(f'{r:.2f}' for r in rates)}) = {1e6 / med / 1e3:.1f}k items/CPU-s")
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.cprofile)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
