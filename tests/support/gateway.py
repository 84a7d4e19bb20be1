"""The real gateway (``python -m hangar_otelcol --config``) as a subprocess.

``GatewayProcess`` can be fed on stdin, killed with SIGKILL and started again with the same
config; ``run_gateway`` writes a config with free ports, starts it, and stops it with
SIGTERM at the end, checking that it exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from hangar_otelcol.testing import free_port
from tests.support.paths import REPO
from tests.support.processes import terminate, wait_serving

#: the placeholders ``run_gateway`` replaces with free ports
PORTS = ("grpc", "http", "health", "metrics", "prom")


class GatewayProcess:
    """One gateway config, run as a subprocess (again after a kill); health on ``health_port``."""

    def __init__(self, config_path: Path, health_port: int, stderr_path: Path,
                 env: dict[str, str] | None = None, extra_args: Sequence[str] = (),
                 ports: dict[str, int] | None = None) -> None:
        self.config_path = config_path
        self.health_port = health_port
        self.stderr_path = stderr_path
        # each gateway its own state directory (file_storage, checkpoints), kept across
        # restarts of this process object, never shared with another test
        self.state_dir = stderr_path.with_suffix(".state")
        self.env = {**os.environ, "HANGAR_OTELCOL_STATE_DIR": str(self.state_dir),
                    **(env or {})}
        self.extra_args = list(extra_args)
        self.ports = ports or {"health": health_port}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, stdin: IO[Any] | int | None = subprocess.DEVNULL,
              timeout: float = 30) -> None:
        """Start and wait until the health check answers."""
        self.starts += 1
        with self.stderr_path.open("ab") as err:
            err.write(f"--- start {self.starts} ---\n".encode())
            err.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hangar_otelcol", "--config", str(self.config_path),
                 *self.extra_args],
                stdin=stdin, stdout=subprocess.DEVNULL, stderr=err, env=self.env, cwd=REPO)
        wait_serving(f"http://127.0.0.1:{self.health_port}/", self.process, timeout,
                     "gateway", self.stderr)

    def kill(self) -> None:
        """SIGKILL (if it runs) and reap."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return 0
        return terminate(self.process, timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@contextmanager
def run_gateway(tmp_path: Path, config: str, name: str = "gw",
                env: dict[str, str] | None = None, extra_args: Sequence[str] = ()
                ) -> Iterator[GatewayProcess]:
    """Start a gateway; ``config`` may use the {grpc}, {http}, {health}, {metrics} and
    {prom} placeholders, replaced by free ports. Stops it with SIGTERM and checks exit 0."""
    ports = {key: free_port() for key in PORTS}
    text = config
    for key, port in ports.items():
        text = text.replace("{" + key + "}", str(port))
    config_path = tmp_path / f"{name}.yaml"
    config_path.write_text(text)
    gateway = GatewayProcess(config_path, ports["health"], tmp_path / f"{name}.stderr", env,
                             extra_args, ports)
    try:
        gateway.start(timeout=20)
        yield gateway
    finally:
        code = gateway.stop()
        assert code == 0, f"gateway {name} exited with {code}:\n{gateway.stderr()}"


def shipped_gateway(tmp_path: Path, overlay: str, name: str = "gw",
                    env: dict[str, str] | None = None, recipes: Sequence[str] = (),
                    **values: Any) -> tuple[GatewayProcess, dict[str, int]]:
    """The shipped config (config/gateway.yaml) with ``recipes`` (config/recipes/<name>.yaml)
    and ``overlay`` on top, as a user runs it (``--config config/gateway.yaml --config
    config/recipes/forward-otlp.yaml --config overlay.yaml``); not started. The overlay's
    {grpc}, {http}, {health}, {metrics} and {prom} become free ports (returned), other
    placeholders the ``values`` given."""
    ports = {key: free_port() for key in PORTS}
    text = overlay
    for key, value in {**ports, **values}.items():
        text = text.replace("{" + key + "}", str(value))
    overlay_path = tmp_path / f"{name}.overlay.yaml"
    overlay_path.write_text(text)
    layers = [arg for recipe in recipes
              for arg in ("--config", str(REPO / "config" / "recipes" / f"{recipe}.yaml"))]
    gateway = GatewayProcess(REPO / "config" / "gateway.yaml", ports["health"],
                             tmp_path / f"{name}.stderr", env,
                             [*layers, "--config", str(overlay_path)], ports)
    return gateway, ports
