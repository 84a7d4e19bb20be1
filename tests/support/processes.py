"""Subprocesses the tests start: stop them by their own handle, wait until they serve."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from hangar_otelcol.testing import terminate

__all__ = ["terminate", "wait_serving"]


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
