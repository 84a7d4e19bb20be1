"""Real MCP Hangar releases from PyPI, for the end-to-end tests.

``install_hangars.sh`` builds one virtualenv per release (cached under $HANGAR_VENV_CACHE or
<repo>/.cache/hangar-venvs); ``HangarProcess`` runs ``mcp-hangar serve --http`` from one of
them with a stdio math server, and ``drive`` calls tools through it with the MCP client.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import IO, Any

from tests.support.paths import REPO
from tests.support.processes import terminate, wait_serving

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("HANGAR_VENV_CACHE") or REPO / ".cache" / "hangar-venvs")
INSTALLER = HERE / "install_hangars.sh"
VERSIONS = ("2.34.4", "1.6.3", "1.1.0")


def venv(name: str) -> Path:
    return CACHE / name


def ensure_venvs(timeout: float = 900) -> str | None:
    """Build (or find cached) venvs; None when ready, else why not (to skip with)."""
    try:
        proc = subprocess.run(["bash", str(INSTALLER)], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "HANGAR_VENV_CACHE": str(CACHE)})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot build the hangar venvs ({exc}); offline? run with -m 'not hangar'"
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stderr.splitlines()
                         if not line.startswith("WARNING: Location"))[-800:]
        return (f"cannot build the hangar venvs (exit {proc.returncode}; offline? run with "
                f"-m 'not hangar'):\n{tail}")
    return None


class HangarProcess:
    """``mcp-hangar serve --http`` of one release, in its own directory and HOME."""

    def __init__(self, version: str, workdir: Path, port: int, env: dict[str, str]) -> None:
        self.version = version
        self.workdir = workdir
        self.port = port
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.stdout_path = workdir / "hangar.stdout"
        self.stderr_path = workdir / "hangar.stderr"

    def start(self, stderr: IO[Any] | int | None = None) -> None:
        """Start; stderr goes to hangar.stderr unless ``stderr`` (e.g. subprocess.PIPE)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "hangar.yaml"
        config.write_text(
            "mcp_servers:\n  math:\n    mode: subprocess\n"
            f"    command: [{venv('client') / 'bin' / 'python'}, {HERE / 'math_server.py'}]\n"
            "    idle_ttl_s: 300\n")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workdir),
               "LANG": "C.UTF-8", **self.env}
        out = self.stdout_path.open("wb")
        err_target: Any = stderr if stderr is not None else self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [str(venv(f"hangar-{self.version}") / "bin" / "mcp-hangar"), "--config", str(config),
             "serve", "--http", "--host", "127.0.0.1", "--port", str(self.port), "--json-logs",
             "--log-level", "INFO"],
            stdin=subprocess.DEVNULL, stdout=out if stderr is None else stderr,
            stderr=err_target if stderr is None else subprocess.STDOUT,
            cwd=self.workdir, env=env)
        out.close()
        if stderr is None:
            err_target.close()

    def wait_healthy(self, timeout: float = 60) -> None:
        """Until /metrics answers (every release has it; 2.x moved /health to /health/live)."""
        assert self.process is not None
        wait_serving(f"http://127.0.0.1:{self.port}/metrics", self.process, timeout,
                     f"mcp-hangar {self.version}", lambda: self.stderr()[-3000:])

    def stop(self, timeout: float = 20) -> None:
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):  # killed by then
                terminate(self.process, timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""


def drive(port: int, timeout: float = 120) -> list[str]:
    """Run the tool calls of client.py against hangar; its output lines."""
    proc = subprocess.run(
        [str(venv("client") / "bin" / "python"), str(HERE / "client.py"),
         f"http://127.0.0.1:{port}/mcp", "x-user-id=alice", "x-session-id=sess-1"],
        capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"client failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.splitlines()
