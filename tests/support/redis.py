"""A real Redis server (Debian package ``redis-server``) on 127.0.0.1 for the shared-ledger
tests: its own scratch directory, no persistence unless asked, stopped (and started again,
on the same port) by pid."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

from hangar_otelcol.testing import free_port
from tests.support.processes import Daemon

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
SKIP_REASON = "redis-server not installed (apt-get install redis-server)"


class RedisServer(Daemon):
    name = "redis"

    def __init__(self, workdir: Path, port: int | None = None, *,
                 persistent: bool = False) -> None:
        super().__init__(workdir)
        #: an append-only file, fsynced per write: what it acknowledged survives a restart
        #: (what a production ledger needs, docs/scale-out.md)
        self.persistent = persistent
        self.port = port or free_port()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> RedisServer:
        assert REDIS_SERVER is not None, SKIP_REASON
        args = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always",
                "--dir", str(self.workdir), "--protected-mode", "yes"]
        process = self.spawn([REDIS_SERVER, *args])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"redis-server not answering on {self.port}: {self.log()}")
