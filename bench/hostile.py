"""A small client's latency while a hostile body is decoded (issue 13).

    .venv/bin/python -m bench.hostile [--seconds 4] [--mib 19] [--shape empty-array]

Starts the otlp receiver alone in a subprocess (a consumer that drops everything), then,
from this process, sends a small OTLP/JSON request (2 spans) every 10 ms over one
keep-alive connection and records each answer's latency: first at rest, then while a
separate attacker process posts hostile OTLP/JSON bodies of ``--mib`` MiB back to back.
This is done with the decode on the event loop (``offload_decode_above: 0``) and in the
decode thread (the default, 1MiB). Also prints the decode times of the issue's bodies
(one arrayValue of 50k and 400k empty values) in this process.

The receiver's overload.max_inflight_bytes is raised to 256MiB here: with the default
16MiB the hostile body's reservation makes the small client's requests be refused (429,
retryable) rather than delayed, which is the limit working, not what is measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import urllib.request

import orjson

from hangar_otelcol.testing import free_port, terminate

PY = sys.executable
SMALL = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
    {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": f"eee19b7ec3c1b17{i}",
     "name": "tools/call add"} for i in range(2)]}]}]})


def hostile_body(shape: str, mib: float) -> bytes:
    size = int(mib * 1024 * 1024)
    if shape == "empty-array":  # the shape: one arrayValue of empty values
        values: list[object] = [{}] * (size // 3)
        return orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
            {"body": {"arrayValue": {"values": values}}}]}]}]})
    if shape == "records":  # many empty log records
        return orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [{}] * (
            size // 3)}]}]})
    raise SystemExit(f"unknown shape {shape!r}")


# ---------------------------------------------------------------- the receiver (child)

async def _serve(port: int, offload: str) -> None:
    from hangar_otelcol.component import Kind
    from hangar_otelcol.config.types import build
    from hangar_otelcol.pdata import Signal
    from hangar_otelcol.receivers.otlp.factory import FACTORY
    from hangar_otelcol.telemetry import Telemetry
    from hangar_otelcol.testing import StandaloneHost, make_settings

    class Drop:
        mutates_data = False

        async def consume(self, batch: object) -> None:
            return None

    config = build(FACTORY.config_class, {
        "protocols": {"http": {"endpoint": f"127.0.0.1:{port}"}},
        "overload": {"max_inflight_bytes": "256MiB"}, "offload_decode_above": offload})
    receiver = FACTORY.create(make_settings(Kind.RECEIVER, "otlp", Telemetry()), config,
                              {s: Drop() for s in Signal})
    await receiver.start(StandaloneHost())
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await receiver.shutdown()


def _attack(url: str, shape: str, mib: float) -> None:
    body = hostile_body(shape, mib)
    print("armed", flush=True)
    while True:
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                resp.read()
        except OSError:
            time.sleep(0.1)


# ---------------------------------------------------------------- the measuring side

async def _latencies(url: str, seconds: float) -> tuple[list[float], int]:
    import aiohttp

    out: list[float] = []
    failures = 0
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                async with session.post(url, data=SMALL, timeout=aiohttp.ClientTimeout(60),
                                        headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    if r.status != 200:
                        failures += 1
            except (aiohttp.ClientError, TimeoutError):
                failures += 1
            out.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    return out, failures


def _figures(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    if len(samples) == 1:
        return f"one answer in the window, after {samples[0] * 1000:.1f} ms"
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return (f"p50 {q[49] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms  "
            f"max {max(samples) * 1000:7.1f} ms  n={len(samples)}")


def _run_mode(offload: str, args: argparse.Namespace) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/traces"
    server = subprocess.Popen([PY, "-m", "bench.hostile", "--serve", str(port), offload],
                              stdout=subprocess.PIPE)
    attacker = None
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"ready":
            raise SystemExit("the receiver did not start")
        rest, _ = asyncio.run(_latencies(url, args.seconds))
        attacker = subprocess.Popen(
            [PY, "-m", "bench.hostile", "--attack", url.replace("traces", "logs"),
             "--shape", args.shape, "--mib", str(args.mib)], stdout=subprocess.PIPE)
        assert attacker.stdout is not None
        attacker.stdout.readline()
        time.sleep(0.5)  # the first hostile body is on its way
        hostile, failures = asyncio.run(_latencies(url, args.seconds))
        label = "on the event loop" if offload == "0" else f"in the decode thread (>{offload})"
        print(f"decode {label}:")
        print(f"  at rest:               {_figures(rest)}")
        print(f"  under {args.mib:g} MiB {args.shape}: {_figures(hostile)}"
              f"{f'  failures {failures}' if failures else ''}")
    finally:
        if attacker is not None:
            attacker.kill()
            attacker.wait()
        terminate(server, strict=False)


def _decode_times() -> None:
    from hangar_otelcol import otlpjson
    from hangar_otelcol.pdata import Signal

    for n in (50_000, 400_000):
        body = orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
            {"body": {"arrayValue": {"values": [{}] * n}}}]}]}]})
        started = time.perf_counter()
        otlpjson.decode_wire(Signal.LOGS, body)
        print(f"decode_wire, arrayValue of {n:>7,} empty values ({len(body) / 1e6:.2f} MB): "
              f"{time.perf_counter() - started:.3f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--mib", type=float, default=19.0)
    parser.add_argument("--shape", default="empty-array", choices=["empty-array", "records"])
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "OFFLOAD"), help=argparse.SUPPRESS)
    parser.add_argument("--attack", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(int(args.serve[0]), args.serve[1]))
        return 0
    if args.attack:
        _attack(args.attack, args.shape, args.mib)
        return 0
    _decode_times()
    for offload in ("0", "1MiB"):
        _run_mode(offload, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
