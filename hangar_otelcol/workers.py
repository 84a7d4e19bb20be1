"""``workers: N``: run N gateway processes that share the receiver ports (SO_REUSEPORT).

One Python process is bound to one core by the GIL; the gateway scales by process. The
supervisor (this module) gets the config loaded and validated once by the CLI, then starts
N workers, each a fresh ``python -m hangar_otelcol run`` with that resolved config (written
to a private file, every ``${...}`` already expanded, so every worker runs exactly the same
config), plus a few per-worker changes:

- every ``otlp`` receiver protocol gets ``reuse_port: true``, so all workers bind the same
  gRPC/HTTP ports and the kernel spreads *connections* over them (gRPC connections are
  long-lived: clients need several connections, or an L4 balancer in front);
- listeners that cannot be shared meaningfully stay with worker 0 on their configured
  address: the gateway's self-metrics (workers 1..N-1 do not serve them), and the
  ``prometheus`` exporter and ``health_check`` extension (workers 1..N-1 bind them to an
  ephemeral port, so they run but do not clash);
- counters are still complete there: every worker writes its ``mcp_hangar_*`` series and
  self-metrics about once a second (and when it stops) to prometheus-client multiprocess
  files in a directory the supervisor creates (``HANGAR_OTELCOL_SHARED_DIR``, removed at
  exit), and worker 0 serves the sum of all workers' files (``multiprocess.py``).

Fresh interpreters rather than ``os.fork()``: grpc and uvloop are not fork-safe once used.

Signals: SIGTERM, SIGINT and SIGHUP are forwarded to every worker (workers run in their
own process group, so a terminal's Ctrl-C reaches them once, through here). If a worker
exits on its own, the others are stopped too and its exit code is returned, so a
process manager restarts the whole gateway. The supervisor exits 0 when every worker
exited 0 after a forwarded stop signal. Workers get ``PR_SET_PDEATHSIG`` (Linux), so a
killed supervisor leaves no orphans.

Environment of each worker: ``HANGAR_OTELCOL_WORKER`` (0..N-1) and
``HANGAR_OTELCOL_WORKERS`` (N); the CLI must not start workers again when
``HANGAR_OTELCOL_WORKER`` is set.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import yaml

from hangar_otelcol.config.gateway import error_lines, escape, load_config
from hangar_otelcol.config.loader import merge
from hangar_otelcol.config.model import GatewayConfig
from hangar_otelcol.config.types import ConfigError
from hangar_otelcol.multiprocess import SHARED_DIR_ENV, WORKER_ENV, WORKERS_ENV
from hangar_otelcol.net.endpoints import split_endpoint

#: backstop: workers still running this long after their service.shutdown_timeout are killed
KILL_GRACE_S = 5.0
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _type_of(component_id: str) -> str:
    return str(component_id).partition("/")[0]


def worker_overrides(data: dict[str, Any], index: int) -> dict[str, Any]:
    """What worker ``index`` changes in the merged config ``data`` (an overlay to merge)."""
    overlay: dict[str, Any] = {}

    def put(path: list[str], value: Any) -> None:
        node = overlay
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    for rid, rcfg in (data.get("receivers") or {}).items():
        if _type_of(rid) != "otlp" or not isinstance(rcfg, dict):
            continue
        protocols = rcfg.get("protocols") or {}
        for proto in ("grpc", "http"):
            if proto in protocols:
                put(["receivers", rid, "protocols", proto, "reuse_port"], True)
    if index == 0:
        return overlay
    put(["service", "telemetry", "metrics", "level"], "none")
    for section, kind in (("exporters", "prometheus"), ("extensions", "health_check")):
        for cid, ccfg in (data.get(section) or {}).items():
            if _type_of(cid) != kind:
                continue
            endpoint = str((ccfg or {}).get("endpoint", "")) if isinstance(ccfg, dict) else ""
            try:
                host = split_endpoint(endpoint)[0] if endpoint else "127.0.0.1"
            except ValueError:
                host = "127.0.0.1"
            put([section, cid, "endpoint"], f"[{host}]:0" if ":" in host else f"{host}:0")
    return overlay


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.setpgid(0, 0)  # own process group: a terminal's SIGINT reaches the worker only via us
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


def _write_config(directory: str, index: int, data: dict[str, Any]) -> str:
    """The resolved config of worker ``index``, readable by this user only (it may hold
    secrets that came from ${env:...} or ${file:...})."""
    path = os.path.join(directory, f"config-w{index}.yaml")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(escape(data), f, sort_keys=False)
    return path


def run_workers(data: dict[str, Any], config: GatewayConfig, workers: int) -> int:
    """Run ``workers`` gateway processes on the config the CLI loaded (``data``, merged and
    expanded; ``config``, validated) until a stop signal; return the exit code."""
    stop_signal: list[int] = []
    procs: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: Any) -> None:
        if signum != signal.SIGHUP:
            stop_signal.append(signum)
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    # each worker writes its counters here; worker 0 serves their sum (multiprocess.py)
    shared_dir = tempfile.mkdtemp(prefix="hangar-otelcol-workers-")
    try:
        for i in range(workers):
            path = _write_config(shared_dir, i, merge(data, worker_overrides(data, i)))
            env = {**os.environ, WORKER_ENV: str(i), WORKERS_ENV: str(workers),
                   SHARED_DIR_ENV: shared_dir}
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "hangar_otelcol", "run", "--config", path], env=env,
                preexec_fn=_child_setup))
        grace = float(config.service.shutdown_timeout) + KILL_GRACE_S
        return _supervise(procs, stop_signal, grace)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for p in procs:  # never leave a worker behind, whatever happened above
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(shared_dir, ignore_errors=True)


def _supervise(procs: list[subprocess.Popen[bytes]], stop_signal: list[int], grace: float
               ) -> int:
    first_failure: int | None = None
    deadline: float | None = None
    while True:
        codes = [p.poll() for p in procs]
        if all(c is not None for c in codes):
            break
        if not stop_signal and first_failure is None:
            for p, code in zip(procs, codes, strict=True):
                if code is not None:
                    # a worker died by itself: take the others down so that the process
                    # manager restarts a whole gateway, not a silently smaller one
                    first_failure = code if code != 0 else 1
                    print(f"error: worker pid {p.pid} exited with code {code}; stopping "
                          f"the other workers", file=sys.stderr)
                    for q in procs:
                        if q.poll() is None:
                            q.send_signal(signal.SIGTERM)
                    break
        if (stop_signal or first_failure is not None) and deadline is None:
            deadline = time.monotonic() + grace
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    print(f"error: worker pid {p.pid} did not stop in time; killing it",
                          file=sys.stderr)
                    p.kill()
            deadline = float("inf")
        time.sleep(0.05)
    if first_failure is not None:
        return first_failure
    # a worker stopped by the forwarded signal before its handler was installed exits
    # with -SIGTERM/-SIGINT: that is still a requested, clean stop
    bad = [c for c in (p.returncode for p in procs)
           if c is not None and c != 0 and -c not in stop_signal]
    return bad[0] if bad else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m hangar_otelcol.workers --workers N [--config ...] [--set ...]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hangar_otelcol.workers",
                                     description="run N gateway processes on shared ports")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(argv)
    if args.workers < 1:
        print(f"error: --workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 1
    try:
        data, config = load_config(args.config, args.set)
    except ConfigError as exc:
        print("\n".join(error_lines(exc.errors)), file=sys.stderr)
        return 1
    return run_workers(data, config, args.workers)


if __name__ == "__main__":
    sys.exit(main())
