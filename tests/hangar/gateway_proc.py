"""A gateway subprocess (``python -m hangar_otelcol --config``) that can be fed on stdin,
killed with SIGKILL and started again with the same config (unlike tests/e2e/gateway.py,
which always stops with SIGTERM and reads nothing on stdin)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from tests.e2e.gateway import REPO, terminate, wait_healthy


class GatewayProcess:
    def __init__(self, config_path: Path, health_port: int, stderr_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.config_path = config_path
        self.health_port = health_port
        self.stderr_path = stderr_path
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, stdin: IO[Any] | int | None = subprocess.DEVNULL) -> None:
        self.starts += 1
        with self.stderr_path.open("ab") as err:
            err.write(f"--- start {self.starts} ---\n".encode())
            err.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hangar_otelcol", "--config", str(self.config_path)],
                stdin=stdin, stdout=subprocess.DEVNULL, stderr=err, env=self.env, cwd=REPO)
        wait_healthy(self.health_port, self.process, self.stderr_path, timeout=30)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return 0
        return terminate(self.process, timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def wait_for(cond: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``cond()`` until true (blocking; call through asyncio.to_thread from async)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
