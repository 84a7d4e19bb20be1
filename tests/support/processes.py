"""Subprocesses the tests start: stop them by their own handle, wait until they serve."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from hangar_otelcol.testing import terminate

__all__ = ["Daemon", "terminate", "wait_serving"]


def wait_serving(url: str, process: subprocess.Popen[bytes], timeout: float, name: str,
                 log: Callable[[], str]) -> None:
    """Poll ``url`` until it answers 200; fail at once (with ``log()``) if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{name} not serving {url} after {timeout}s:\n{log()}")


class Daemon:
    """A real server a test starts in its own scratch folder (``workdir``), its output in
    ``<name>.log`` there, stopped by its own handle."""

    name = "daemon"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / f"{self.name}.log").open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, 10, strict=False)
            self.process = None

    def log(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
