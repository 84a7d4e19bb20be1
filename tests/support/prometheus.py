"""A real Prometheus server (Debian package ``prometheus``) on 127.0.0.1 scraping given
targets every second, and its query API."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from hangar_otelcol.testing import free_port
from tests.support.processes import terminate, wait_serving

PROMETHEUS = shutil.which("prometheus")
SKIP_REASON = "prometheus not installed (apt-get install prometheus)"


class PrometheusServer:
    def __init__(self, workdir: Path, targets: Sequence[str]) -> None:
        self.workdir = workdir
        self.targets = list(targets)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        assert PROMETHEUS is not None, SKIP_REASON
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        targets = ", ".join(f'"{t}"' for t in self.targets)
        config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          "scrape_configs:\n  - job_name: gateway\n    static_configs:\n"
                          f"      - targets: [{targets}]\n")
        log = (self.workdir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_serving(f"http://127.0.0.1:{self.port}/-/ready", self.process, timeout,
                     "prometheus", self.log)
        return self

    async def query(self, promql: str) -> list[dict]:
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": promql}) as r:
            doc = await r.json()
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    async def scalar(self, promql: str) -> float | None:
        """The value of a query with one result (None: no result)."""
        result = await self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, 10, strict=False)
            self.process = None

    def log(self) -> str:
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""
