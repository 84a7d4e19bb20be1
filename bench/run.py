"""Run the benchmark suite and print the table.

    .venv/bin/python -m bench [--quick] [--runs 3] [--window 3] [--only NAME ...]
                              [--json FILE] [--profile NAME]

For each scenario: start the gateway (a subprocess, or ``workers: N`` through
hangar_otelcol.workers), start the load generator process(es), warm up, then measure
``--runs`` consecutive windows of ``--window`` seconds. In each window:

- items = spans + log records the sink received (downstream of the gateway), or, for the
  full pipeline, the records the gateway's receiver accepted (its self-metrics: part of
  its output is Prometheus and files, and the connector derives extra audit records);
- per core = items / gateway CPU-seconds (utime+stime of the gateway process tree from
  /proc); wall = items / window seconds; cores = CPU-seconds / window seconds.

Figures are medians over the windows. The protobuf floor (parse + serialize of the same
payload, in this process) is measured first, and every per-core figure is also printed
as a ratio of it. Latency scenarios send at a fixed rate (half of a throughput
scenario's median wall rate) and report p50/p99 from send until the sink has the data.

Side by side: a scenario with a Collector twin (``Scenario.collector``: configs in
bench/collector/) is run again, right after ours, against the real OpenTelemetry Collector
(the test peer of tests/peers/otelcol, found or built by scripts/build-otelcol-peer.sh)
with the same load, sink and measurement; the second table prints both per-core figures
and their ratio. ``--collector cached`` (the default of ``--quick``) never starts a build;
``auto`` builds the peer once if Go is there (minutes); ``off`` skips the twins. Without
the peer the Collector columns say why.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import floor, procstat
from bench.payloads import build
from bench.scenarios import SCENARIOS, Load, Scenario, by_name
from hangar_otelcol.testing import free_port, terminate

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
COLLECTOR_DIR = BENCH_DIR / "collector"
BUILD_PEER = REPO / "scripts" / "build-otelcol-peer.sh"
PY = sys.executable
MiB = 1024 * 1024


@dataclass
class Settings:
    runs: int = 3
    window: float = 3.0
    warmup: float = 1.5
    quick: bool = False
    profile: str = ""
    profile_seconds: float = 8.0


@dataclass
class Result:
    scenario: Scenario
    floor: float = 0.0
    per_core: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cores: list[float] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    processes: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    latency_samples: int = 0
    rate_spans: float = 0.0
    acked: int = 0
    delivered: int = 0
    client_errors: dict[str, int] = field(default_factory=dict)
    late: int = 0
    exit_code: int | None = None
    scaling: float | None = None
    #: items the gateway accepted in the windows, by kind (full-pipeline scenarios)
    accepted: dict[str, int] = field(default_factory=dict)
    note: str = ""
    #: "ours" (hangar-otelcol) or "otelcol" (the Collector on the scenario's twin config)
    side: str = "ours"
    #: the Collector's run of the same scenario, when it has a twin and the peer is there
    twin: Result | None = None
    #: why there is no twin result (no equivalent config, peer absent, off)
    twin_note: str = ""

    @property
    def per_core_median(self) -> float:
        return statistics.median(self.per_core) if self.per_core else 0.0

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall) if self.wall else 0.0

    @property
    def ratio_to_twin(self) -> float | None:
        """hangar-otelcol per core / the Collector's per core (same scenario, same run)."""
        if self.twin is None or not self.twin.per_core_median:
            return None
        return self.per_core_median / self.twin.per_core_median

    def figure(self, name: str) -> float | None:
        return {"per_core": self.per_core_median or None, "p99_ms": self.p99_ms,
                "peak_rss_mib": self.peak_rss_mib or None, "scaling": self.scaling}.get(name)

    def verdict(self) -> str:
        if self.scenario.target is None:
            return ""
        name, op, value = self.scenario.target
        got = self.figure(name)
        if got is None:
            return "n/a"
        ok = got >= value if op == ">=" else got < value
        return "met" if ok else "MISSED"

    def as_dict(self) -> dict[str, Any]:
        s = self.scenario
        return {
            "scenario": s.name, "description": s.description, "config": s.config,
            "overlays": list(s.overlays),
            "workers": s.workers, "loads": [vars(x) for x in s.loads],
            "floor_items_per_core_s": round(self.floor),
            "per_core_median": round(self.per_core_median), "per_core_runs": [
                round(x) for x in self.per_core],
            "ratio_to_floor": round(self.per_core_median / self.floor, 4) if self.floor else None,
            "wall_median": round(self.wall_median), "cores_median": round(
                statistics.median(self.cores), 3) if self.cores else None,
            "peak_rss_mib": round(self.peak_rss_mib, 1), "processes": self.processes,
            "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
            "latency_samples": self.latency_samples, "rate_spans_per_s": round(self.rate_spans),
            "acked_items": self.acked, "delivered_items": self.delivered,
            "client_errors": self.client_errors, "late_sends": self.late,
            "gateway_exit_code": self.exit_code, "scaling": self.scaling,
            "accepted_items": self.accepted,
            "target": list(s.target) if s.target else None, "verdict": self.verdict(),
            "note": self.note, "side": self.side,
            "collector": self.twin.as_dict() if self.twin is not None else None,
            "collector_configs": list(s.collector) if self.side == "ours" else None,
            "collector_note": self.twin_note,
            "ratio_to_collector": round(r, 4) if (r := self.ratio_to_twin) else None,
        }


# -- processes -----------------------------------------------------------------------------
def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before it "
                               f"listened on port {port}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f}s")


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    return terminate(proc, timeout, strict=False)


def _accepted(metrics_port: int) -> dict[str, int]:
    """Spans and log records the otlp receiver accepted, from a self-metrics page (ours:
    ``otelcol_receiver_accepted_spans_total``; the Collector 0.159 leaves out ``_total``)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    out = {"spans": 0, "log_records": 0}
    for m in re.finditer(r"^otelcol_receiver_accepted_(spans|log_records)(?:_total)?"
                         r"\{[^}]*receiver=\"otlp\"[^}]*\} ([0-9.e+]+)$", text, re.M):
        out[m.group(1)] += int(float(m.group(2)))
    return out


def find_collector(mode: str) -> tuple[str | None, str]:
    """(path of the Collector test peer, '') or (None, why not). ``mode``: ``off``,
    ``cached`` (only a binary already built) or ``auto`` (build it once if needed).
    ``HANGAR_OTELCOL_PEER_BIN`` names a binary; ``HANGAR_OTELCOL_PEER_SKIP`` (set by
    scripts/test.sh when the build failed) says why there is none."""
    if mode == "off":
        return None, "off (--collector off)"
    given = os.environ.get("HANGAR_OTELCOL_PEER_BIN")
    if given:
        if os.path.isfile(given) and os.access(given, os.X_OK):
            return given, ""
        return None, f"HANGAR_OTELCOL_PEER_BIN={given} is not an executable file"
    skip = os.environ.get("HANGAR_OTELCOL_PEER_SKIP")
    if skip:
        return None, skip
    cmd = ["bash", str(BUILD_PEER)] + (["--cached-only"] if mode == "cached" else [])
    if mode == "auto":
        print("finding the otelcol test peer (a first build takes minutes) ...",
              file=sys.stderr, flush=True)
    try:
        cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=1800)
    except subprocess.TimeoutExpired:
        return None, "the otelcol peer build took longer than 1800 s"
    lines = [ln for ln in cp.stderr.splitlines() if ln.strip()]
    if cp.returncode != 0:
        return None, (lines[-1] if lines else f"build script exit {cp.returncode}").removeprefix(
            "build-otelcol-peer: ")
    out = cp.stdout.strip().splitlines()
    path = out[-1] if out else ""
    if not path or not os.access(path, os.X_OK):
        return None, f"the build script printed no executable path ({path!r})"
    return path, ""


def collector_version(binary: str) -> str:
    try:
        cp = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return cp.stdout.strip().rsplit(" ", 1)[-1] or "?"


class Sink:
    def __init__(self, workdir: Path) -> None:
        self.grpc_port, self.http_port = free_port(), free_port()
        self.log = open(workdir / "sink.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PY, "-m", "bench.sink", "--grpc-port", str(self.grpc_port),
             "--http-port", str(self.http_port)], cwd=REPO, env=_env({}),
            stdout=self.log, stderr=subprocess.STDOUT)
        _wait_port(self.http_port, self.proc)
        _wait_port(self.grpc_port, self.proc)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/stats",
                                    timeout=10) as r:
            return orjson.loads(r.read())  # type: ignore[no-any-return]

    def reset(self) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/reset", data=b"",
                                     method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def items(self) -> int:
        s = self.stats()
        return int(s["spans"]) + int(s["log_records"])

    def stop(self) -> None:
        _stop(self.proc)
        self.log.close()


class _Served:
    """A process under test (hangar-otelcol or the Collector): its ports, log, self-metrics."""

    grpc_port: int
    http_port: int
    metrics_port: int
    proc: subprocess.Popen[bytes]
    log: Any
    log_path: Path

    def accepted(self) -> dict[str, int]:
        """Spans and log records the otlp receiver accepted (self-metrics)."""
        return _accepted(self.metrics_port)

    def stop(self) -> int:
        code = _stop(self.proc, 45)
        self.log.close()
        return code

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Gateway(_Served):
    def __init__(self, scenario: Scenario, sink: Sink, workdir: Path) -> None:
        assert scenario.config is not None
        self.grpc_port, self.http_port = free_port(), free_port()
        self.metrics_port = free_port()
        outdir = workdir / scenario.name
        outdir.mkdir(parents=True, exist_ok=True)
        env = _env({
            "BENCH_GRPC_PORT": str(self.grpc_port), "BENCH_HTTP_PORT": str(self.http_port),
            "BENCH_METRICS_PORT": str(self.metrics_port), "BENCH_PROM_PORT": str(free_port()),
            "BENCH_SINK_GRPC_PORT": str(sink.grpc_port), "BENCH_OUT_DIR": str(outdir),
        })
        configs = [arg for name in (scenario.config, *scenario.overlays)
                   for arg in ("--config", str(BENCH_DIR / "configs" / name))]
        if scenario.workers > 1:
            cmd = [PY, "-m", "hangar_otelcol.workers", "--workers", str(scenario.workers),
                   *configs]
        else:
            cmd = [PY, "-m", "hangar_otelcol", "run", *configs]
        self.log_path = outdir / "gateway.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        _wait_port(self.grpc_port, self.proc)
        _wait_port(self.http_port, self.proc)
        if scenario.workers > 1:  # every worker must be listening, not only the first
            deadline = time.monotonic() + 20
            while len(procstat.tree(self.proc.pid)) < scenario.workers + 1:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("workers did not start")
                time.sleep(0.05)
            time.sleep(1.0)

class Collector(_Served):
    """The OpenTelemetry Collector (the test peer) on a scenario's twin config:
    ``bench/collector/common.yaml`` + ``scenario.collector``, with the same environment
    variables as ours (ports, sink, output folder) plus BENCH_HEALTH_PORT."""

    def __init__(self, binary: str, scenario: Scenario, sink: Sink, workdir: Path) -> None:
        self.grpc_port, self.http_port = free_port(), free_port()
        self.metrics_port, health_port = free_port(), free_port()
        outdir = workdir / f"{scenario.name}.otelcol"
        outdir.mkdir(parents=True, exist_ok=True)
        env = _env({
            "BENCH_GRPC_PORT": str(self.grpc_port), "BENCH_HTTP_PORT": str(self.http_port),
            "BENCH_METRICS_PORT": str(self.metrics_port), "BENCH_HEALTH_PORT": str(health_port),
            "BENCH_SINK_GRPC_PORT": str(sink.grpc_port), "BENCH_OUT_DIR": str(outdir),
        })
        configs = [arg for name in ("common.yaml", *scenario.collector)
                   for arg in ("--config", f"file:{COLLECTOR_DIR / name}")]
        self.log_path = outdir / "otelcol.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([binary, *configs], cwd=outdir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        _wait_port(self.grpc_port, self.proc)
        _wait_port(self.http_port, self.proc)
        # health_check answers 200 once every pipeline has started
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/",
                                            timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the Collector did not become healthy: {self.tail(5)}")
            time.sleep(0.05)


def _start_load(load: Load, target_port: int, rate_req: float, duration: float,
                workdir: Path, index: int) -> tuple[subprocess.Popen[bytes], Path]:
    out = workdir / f"loadgen-{index}.out"
    cmd = [PY, "-m", "bench.loadgen", "--protocol", load.protocol,
           "--target", f"127.0.0.1:{target_port}", "--payload", load.payload,
           "--concurrency", str(load.concurrency), "--connections", str(load.connections),
           "--duration", str(duration)]
    if rate_req:
        cmd += ["--rate", f"{rate_req:.3f}"]
    with open(out, "wb") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env({}), stdout=f,
                                stderr=subprocess.STDOUT)
    return proc, out


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


# -- one scenario --------------------------------------------------------------------------
def run_scenario(s: Scenario, sink: Sink, settings: Settings, floors: dict[str, float],
                 done: dict[str, Result], workdir: Path, collector: str | None = None
                 ) -> Result:
    """Run one scenario against hangar-otelcol, or, with ``collector`` (the peer binary),
    against the Collector on the scenario's twin config (same load, sink and measurement;
    a rate scenario gets the same offered rate as ours)."""
    res = Result(s, floor=floors[s.loads[0].payload], side="otelcol" if collector else "ours")
    gateway: _Served | None = None
    if collector:
        gateway = Collector(collector, s, sink, workdir)
    elif s.config:
        gateway = Gateway(s, sink, workdir)
    rate_req_total = 0.0
    if s.mode == "rate":
        spans_per_req = build(s.loads[0].payload).items
        if s.rate_of:
            base = done.get(s.rate_of)
            if base is None or not base.wall_median:
                raise RuntimeError(f"{s.name}: needs {s.rate_of} to have run first")
            res.rate_spans = base.wall_median / 2
        else:
            res.rate_spans = s.rate_spans
        rate_req_total = res.rate_spans / spans_per_req
    target = gateway.grpc_port if gateway else sink.grpc_port
    sink_start = sink.items()
    measure = settings.warmup + settings.runs * settings.window + 30
    loads = []
    for i, load in enumerate(s.loads):
        port = target
        if gateway and load.protocol in ("http", "http-json"):
            port = gateway.http_port
        loads.append(_start_load(load, port, rate_req_total / len(s.loads), measure, workdir,
                                 i))
    profiler = None
    try:
        time.sleep(settings.warmup)
        use_accepted = s.full_pipeline
        if s.name == settings.profile and gateway and not collector:
            profiler = _start_profiler(gateway.proc.pid, settings, workdir)
        sink.reset()
        def items_now() -> dict[str, int]:
            if use_accepted and gateway:
                return gateway.accepted()
            return {"items": sink.items()}

        # A durable store's first commits can take longer than a quick run's warm-up on a
        # slow disk (CI saw a 0.6 s window with nothing accepted under fsync: true): the
        # windows start once the gateway has answered something, within a bounded wait.
        first_deadline = time.monotonic() + 30
        while sum(items_now().values()) == 0 and time.monotonic() < first_deadline:
            time.sleep(0.1)

        for _ in range(settings.runs):
            pid = gateway.proc.pid if gateway else sink.proc.pid
            c0, i0, t0 = procstat.sample(pid), items_now(), time.monotonic()
            # a durable scenario answers in commit groups: a quick run's 0.6 s window can
            # fall between two of them on a slow disk (CI saw 0 accepted), so at least 2 s
            time.sleep(max(settings.window, 2.0) if settings.quick and s.overlays
                       else settings.window)
            c1, i1, t1 = procstat.sample(pid), items_now(), time.monotonic()
            delta = {k: i1[k] - i0[k] for k in i1}
            if use_accepted:
                for k, v in delta.items():
                    res.accepted[k] = res.accepted.get(k, 0) + v
            cpu, items, wall = procstat.cpu_between(c0, c1), sum(delta.values()), t1 - t0
            res.per_core.append(items / cpu if cpu > 0 else 0.0)
            res.wall.append(items / wall)
            res.cores.append(cpu / wall)
        lat = sorted(float(x) for x in sink.stats()["latencies_ms"])
        if s.mode == "rate":
            res.latency_samples = len(lat)
            if lat:
                res.p50_ms = round(_percentile(lat, 0.50), 2)
                res.p99_ms = round(_percentile(lat, 0.99), 2)
        if gateway:
            rss, res.processes = procstat.peak_rss_tree(gateway.proc.pid)
            res.peak_rss_mib = rss / MiB
        if profiler is not None:
            _finish_profiler(profiler)
            profiler = None
    finally:
        for proc, _ in loads:
            _stop(proc)
        if profiler is not None:
            _finish_profiler(profiler)
    for _, out in loads:
        text = out.read_text(errors="replace").strip().splitlines()
        try:
            stats = orjson.loads(text[-1]) if text else {}
        except orjson.JSONDecodeError:
            stats = {}
            res.note += f"load generator output unreadable: {' '.join(text[-3:])[:200]}; "
        res.acked += int(stats.get("items_ok", 0))
        res.late += int(stats.get("late", 0))
        for k, v in stats.get("errors", {}).items():
            res.client_errors[k] = res.client_errors.get(k, 0) + int(v)
    if gateway:
        # everything acknowledged must reach the sink once the exporter queue drains
        before = sink.items()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = sink.items()
            if now == before:
                break
            before = now
        res.delivered = sink.items() - sink_start
        res.exit_code = gateway.stop()
        if res.exit_code != 0:
            res.note += (f"{'the Collector' if collector else 'gateway'} exited with "
                         f"{res.exit_code}: {gateway.tail(5)}; ")
    if s.scale_of and s.scale_of in done and done[s.scale_of].wall_median:
        res.scaling = round(res.wall_median / done[s.scale_of].wall_median, 3)
    return res


def _start_profiler(pid: int, settings: Settings, workdir: Path
                    ) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(PY).with_name("py-spy"))
    if not Path(exe).exists():
        print("  (py-spy not installed: pip install py-spy; no profile taken)", file=sys.stderr)
        return None
    # raw collapsed stacks are large: kept under bench/results/ (not committed); the
    # summary that _finish_profiler writes goes to bench/profiles/
    out = BENCH_DIR / "results" / "profiles" / f"{settings.profile}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--subprocesses", "--format",
                             "raw", "--duration", str(int(settings.profile_seconds)),
                             "--rate", "200", "--nonblocking", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=open(
                                workdir / "py-spy.log", "wb"))


def _finish_profiler(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(30)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    raw = Path(proc.args[proc.args.index("--output") + 1])  # type: ignore[union-attr,index]
    if raw.exists():
        from bench.profile_summary import summarize

        summary = BENCH_DIR / "profiles" / raw.name.replace(".txt", ".summary.txt")
        summary.parent.mkdir(exist_ok=True)
        summary.write_text(summarize(raw.read_text(errors="replace"), 25))


# -- output --------------------------------------------------------------------------------
def _k(x: float) -> str:
    return f"{x / 1000:,.1f}k" if x else "-"


def table(results: list[Result], floors: dict[str, float]) -> str:
    lines = ["protobuf floor (parse + serialize, in-process, items per CPU-second):"]
    lines += [f"  {name:<16} {_k(v):>10}" for name, v in floors.items()]
    lines.append("")
    head = (f"{'scenario':<22} {'per core':>9} {'xfloor':>6} {'wall/s':>9} {'cores':>5} "
            f"{'RSS MiB':>7} {'p50 ms':>7} {'p99 ms':>7} {'target':>14} {'':>6}")
    lines += [head, "-" * len(head)]
    for r in results:
        ratio = r.per_core_median / r.floor if r.floor and r.per_core_median else 0
        cores = statistics.median(r.cores) if r.cores else 0
        tgt = ""
        if r.scenario.target:
            name, op, value = r.scenario.target
            short = {"per_core": "core", "p99_ms": "p99", "peak_rss_mib": "RSS",
                     "scaling": "scale"}[name]
            tgt = f"{short}{op}{_k(value) if value >= 1000 else f'{value:g}'}"
        lines.append(
            f"{r.scenario.name:<22} {_k(r.per_core_median):>9} {ratio:>6.3f} "
            f"{_k(r.wall_median):>9} {cores:>5.2f} {r.peak_rss_mib:>7.1f} "
            f"{r.p50_ms if r.p50_ms is not None else '-':>7} "
            f"{r.p99_ms if r.p99_ms is not None else '-':>7} {tgt:>14} {r.verdict():>6}")
    extra = []
    for r in results:
        if r.accepted and sum(r.accepted.values()):
            total = sum(r.accepted.values())
            extra.append(f"{r.scenario.name}: accepted " + ", ".join(
                f"{100 * v / total:.0f}% {k.replace('_', ' ')}" for k, v in r.accepted.items()))
        if r.scaling is not None:
            extra.append(f"{r.scenario.name}: wall throughput {r.scaling:.2f}x of "
                         f"{r.scenario.scale_of} ({r.processes - 1} workers)")
        if r.rate_spans:
            extra.append(f"{r.scenario.name}: offered {_k(r.rate_spans)} spans/s, "
                         f"{r.latency_samples} latency samples, {r.late} late sends")
        # the full pipeline derives extra records and exports to files: no 1:1 check there
        lost = r.acked - r.delivered if r.scenario.config in ("passthrough.yaml",
                                                               "enrich.yaml") else 0
        if r.client_errors or lost > 0 or r.note:
            extra.append(f"{r.scenario.name}: client errors {r.client_errors or 'none'}, "
                         f"{r.acked} acknowledged, {r.delivered} delivered"
                         f"{'; ' + r.note if r.note else ''}")
    if extra:
        lines += ["", *extra]
    return "\n".join(lines)


def side_by_side(results: list[Result], peer: str | None, reason: str, version: str) -> str:
    """Per scenario: ours and the Collector's per-core figures and their ratio (ours /
    Collector), peak RSS and, for rate scenarios, p99 latency; the reason where there is no
    Collector figure."""
    what = f"OpenTelemetry Collector {version} (tests/peers/otelcol, configs in bench/collector/)" \
        if peer else f"OpenTelemetry Collector: absent ({reason})"
    lines = [f"side by side with the {what}:"]
    head = (f"{'scenario':<22} {'ours/core':>10} {'otelcol/core':>12} {'ours/otelcol':>12} "
            f"{'RSS ours':>8} {'otelcol':>7} {'p99 ours':>8} {'otelcol':>7}")
    lines += [head, "-" * len(head)]
    extra = []
    for r in results:
        start = f"{r.scenario.name:<22} {_k(r.per_core_median):>10} "
        twin = r.twin
        if twin is None:
            why = r.twin_note or "no twin"
            lines.append(f"{start}{'-':>12} {'-':>12}   ({why})")
            continue
        ratio = r.ratio_to_twin
        lines.append(
            f"{start}{_k(twin.per_core_median):>12} "
            f"{f'{ratio:.2f}' if ratio else '-':>12} {r.peak_rss_mib:>8.1f} "
            f"{twin.peak_rss_mib:>7.1f} {r.p99_ms if r.p99_ms is not None else '-':>8} "
            f"{twin.p99_ms if twin.p99_ms is not None else '-':>7}")
        lost = twin.acked - twin.delivered if r.scenario.config in ("passthrough.yaml",
                                                                     "enrich.yaml") else 0
        if twin.client_errors or lost > 0 or twin.note:
            extra.append(f"{r.scenario.name} (otelcol): client errors "
                         f"{twin.client_errors or 'none'}, {twin.acked} acknowledged, "
                         f"{twin.delivered} delivered{'; ' + twin.note if twin.note else ''}")
        if twin.accepted and sum(twin.accepted.values()):
            total = sum(twin.accepted.values())
            extra.append(f"{r.scenario.name} (otelcol): accepted " + ", ".join(
                f"{100 * v / total:.0f}% {k.replace('_', ' ')}"
                for k, v in twin.accepted.items()))
    if extra:
        lines += ["", *extra]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(
        __doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="seconds-long smoke run: 1 short window per scenario")
    parser.add_argument("--runs", type=int, default=3, help="measurement windows per scenario")
    parser.add_argument("--window", type=float, default=3.0, help="seconds per window")
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--only", nargs="*", default=[], metavar="NAME",
                        help="scenarios to run (default all): " + ", ".join(
                            s.name for s in SCENARIOS))
    parser.add_argument("--json", default="", help="also write the results as JSON here")
    parser.add_argument("--profile", default="", metavar="NAME",
                        help="py-spy the gateway during this scenario into bench/profiles/")
    parser.add_argument("--collector", choices=["auto", "cached", "off"], default=None,
                        help="the Collector twins: auto = find or build the test peer "
                             "(default), cached = only one built already (default of "
                             "--quick), off = skip them")
    args = parser.parse_args(argv)
    settings = Settings(runs=args.runs, window=args.window, warmup=args.warmup,
                        profile=args.profile)
    if args.quick:
        settings = Settings(runs=1, window=0.6, warmup=0.4, quick=True, profile=args.profile)
    scenarios = by_name(args.only)
    started = time.monotonic()
    peer, peer_reason = find_collector(args.collector or ("cached" if args.quick else "auto"))
    peer_version = collector_version(peer) if peer else ""

    payload_names = list(dict.fromkeys(load.payload for s in scenarios for load in s.loads))
    floors = {name: floor.items_per_cpu_second(build(name), runs=1 if args.quick else 5,
                                               run_seconds=0.05 if args.quick else 0.2)
              for name in payload_names}
    results: list[Result] = []
    done: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="hangar-bench-") as tmp:
        workdir = Path(tmp)
        sink = Sink(workdir)
        try:
            for s in scenarios:
                print(f"running {s.name} ...", file=sys.stderr, flush=True)
                try:
                    res = run_scenario(s, sink, settings, floors, done, workdir)
                except Exception as exc:
                    res = Result(s, floor=floors[s.loads[0].payload],
                                 note=f"failed: {type(exc).__name__}: {exc}")
                    print(f"  {s.name} failed: {exc}", file=sys.stderr)
                results.append(res)
                done[s.name] = res
                if not s.collector:
                    res.twin_note = s.no_twin
                elif peer is None:
                    res.twin_note = f"absent: {peer_reason}"
                else:
                    print(f"running {s.name} on the Collector ...", file=sys.stderr,
                          flush=True)
                    try:
                        res.twin = run_scenario(s, sink, settings, floors, done, workdir,
                                                collector=peer)
                    except Exception as exc:
                        res.twin_note = f"failed: {type(exc).__name__}: {exc}"
                        print(f"  {s.name} on the Collector failed: {exc}", file=sys.stderr)
        finally:
            sink.stop()
    print(table(results, floors))
    print()
    print(side_by_side(results, peer, peer_reason, peer_version))
    print(f"\n{len(results)} scenarios in {time.monotonic() - started:.0f}s; runs={settings.runs} "
          f"window={settings.window}s warmup={settings.warmup}s; medians over runs; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    out = args.json or str(REPO / "bench" / "results" / "latest.json")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(orjson.dumps({
        "floors": {k: round(v) for k, v in floors.items()},
        "collector_peer": {"path": peer, "reason": peer_reason, "version": peer_version},
        "settings": vars(settings), "results": [r.as_dict() for r in results]},
        option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
