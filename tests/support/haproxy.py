"""A real HAProxy (Debian package ``haproxy``) on 127.0.0.1 as the L4 load balancer in
front of gateway replicas: ``mode tcp``, round robin per connection, knowing nothing of
OTLP. A replica that stops answering is taken out by its health check and connections
that cannot reach it are sent to another (``option redispatch``)."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from hangar_otelcol.testing import free_port
from tests.support.processes import Daemon

HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
SKIP_REASON = "haproxy not installed (apt-get install haproxy)"


class HAProxy(Daemon):
    """One frontend port per name in ``backends`` ({name: [replica ports]})."""

    name = "haproxy"

    def __init__(self, workdir: Path, backends: Mapping[str, Sequence[int]]) -> None:
        super().__init__(workdir)
        self.backends = backends
        self.ports = {name: free_port() for name in backends}

    def config(self) -> str:
        lines = ["global", "  maxconn 4096", "defaults", "  mode tcp",
                 "  timeout connect 1s", "  timeout client 120s", "  timeout server 120s",
                 "  retries 3", "  option redispatch"]
        for name, replicas in self.backends.items():
            lines += [f"frontend {name}", f"  bind 127.0.0.1:{self.ports[name]}",
                      f"  default_backend {name}", f"backend {name}", "  balance roundrobin"]
            lines += [f"  server r{i} 127.0.0.1:{port} check inter 300ms fall 2 rise 2"
                      for i, port in enumerate(replicas)]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> HAProxy:
        assert HAPROXY is not None, SKIP_REASON
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "haproxy.cfg"
        path.write_text(self.config())
        process = self.spawn([HAPROXY, "-db", "-f", str(path)])
        deadline = time.monotonic() + timeout
        waiting = set(self.ports.values())
        while waiting and time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log()}")
            for port in list(waiting):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    waiting.discard(port)
                except OSError:
                    pass
            time.sleep(0.05)
        if waiting:
            raise TimeoutError(f"haproxy not listening on {sorted(waiting)}: {self.log()}")
        return self
