"""The real OpenTelemetry Collector (Go) as a test and benchmark peer.

Never shipped: the binary is built on demand by ``scripts/build-otelcol-peer.sh``
into a cache folder outside the repository (see README.md beside this file).

    from tests.peers.otelcol import peer

    if peer.binary() is None:
        pytest.skip(peer.skip_reason())
    proc = peer.run(config_yaml, tmp_path)
    try:
        assert peer.wait_healthy(health_port, timeout=30, proc=proc)
        ...
    finally:
        peer.stop(proc)

Standard library only. Everything it starts listens where the config says;
configs for tests must use 127.0.0.1 endpoints only.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from hangar_otelcol.testing import terminate

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-otelcol-peer.sh"
CONFIG_NAME = "otelcol-peer-config.yaml"
LOG_NAME = "otelcol-peer.log"

# A cold build takes minutes (compiling the Collector and its dependencies);
# a cached one is instant.
BUILD_TIMEOUT_S = float(os.environ.get("HANGAR_OTELCOL_PEER_BUILD_TIMEOUT", "1800"))

_lock = threading.Lock()
_result: tuple[str | None, str] | None = None  # (path, reason) once resolved


def _resolve() -> tuple[str | None, str]:
    """Build (or reuse) the peer once per process; remember path or reason."""
    global _result
    with _lock:
        if _result is not None:
            return _result
        override = os.environ.get("HANGAR_OTELCOL_PEER_BIN")
        if override:
            if os.path.isfile(override) and os.access(override, os.X_OK):
                _result = (override, "")
            else:
                _result = (None, f"HANGAR_OTELCOL_PEER_BIN={override} is not an executable file")
            return _result
        # scripts/test.sh tried the build once and says why there is no peer: no test
        # process starts the same failing build again
        skip = os.environ.get("HANGAR_OTELCOL_PEER_SKIP")
        if skip:
            _result = (None, skip)
            return _result
        _result = _build()
        return _result


def _last_lines(text: str, n: int = 15) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def _build() -> tuple[str | None, str]:
    try:
        cp = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except FileNotFoundError:
        return None, "bash not found (needed to run scripts/build-otelcol-peer.sh)"
    except subprocess.TimeoutExpired:
        return None, f"otelcol peer build took longer than {BUILD_TIMEOUT_S:.0f}s"
    if cp.returncode == 3:
        return None, _last_lines(cp.stderr, 1) or "go not found"
    if cp.returncode != 0:
        detail = _last_lines(cp.stderr) or _last_lines(cp.stdout) or "(no output)"
        return None, f"otelcol peer build failed (exit {cp.returncode}):\n{detail}"
    out = cp.stdout.strip().splitlines()
    path = out[-1].strip() if out else ""
    if not path or not os.access(path, os.X_OK):
        return None, f"build script printed no executable path (got {path!r})"
    return path, ""


def binary() -> str | None:
    """Path of the otelcol peer binary (building it once if needed), or None."""
    return _resolve()[0]


def skip_reason() -> str:
    """Why binary() is None ('' when the peer is available)."""
    return _resolve()[1]


def run(config_yaml: str, workdir, *, args: tuple[str, ...] = (),
        env: dict | None = None) -> subprocess.Popen:
    """Start ``otelcol --config file:<workdir>/otelcol-peer-config.yaml``.

    stdout and stderr go to ``<workdir>/otelcol-peer.log`` (``proc.log_path``);
    the process runs in the directory ``workdir``. Stop it with stop(proc).
    """
    path = binary()
    if path is None:
        raise RuntimeError(f"otelcol peer unavailable: {skip_reason()}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / CONFIG_NAME
    cfg.write_text(config_yaml, encoding="utf-8")
    log_path = workdir / LOG_NAME
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [path, "--config", f"file:{cfg}", *args],
            cwd=str(workdir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    proc.config_path = cfg  # type: ignore[attr-defined]
    proc.log_path = log_path  # type: ignore[attr-defined]
    return proc


def wait_healthy(port: int, timeout: float = 30.0, *, path: str = "/",
                 proc: subprocess.Popen | None = None) -> bool:
    """Poll the health_check extension at http://127.0.0.1:<port><path>.

    True once it answers 200; False on timeout, or at once if ``proc`` exits.
    """
    url = f"http://127.0.0.1:{port}{path}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with opener.open(url, timeout=1.0) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGTERM (graceful shutdown), then SIGKILL after ``timeout``; the exit code."""
    return terminate(proc, timeout, strict=False)


def log_text(proc: subprocess.Popen) -> str:
    """What the peer printed so far (its log file)."""
    try:
        return Path(proc.log_path).read_text(encoding="utf-8", errors="replace")  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return ""
