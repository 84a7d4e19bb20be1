"""A real Prometheus server (Debian package ``prometheus``) on 127.0.0.1 scraping given
targets every second, and its query API."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from hangar_otelcol.testing import free_port
from tests.support.processes import Daemon, wait_serving

PROMETHEUS = shutil.which("prometheus")
SKIP_REASON = "prometheus not installed (apt-get install prometheus)"


class PrometheusServer(Daemon):
    name = "prometheus"

    def __init__(self, workdir: Path, targets: Sequence[str] = (), *,
                 remote_write_receiver: bool = False, rule_files: Sequence[Path] = (),
                 job: str = "gateway") -> None:
        self.job = job
        super().__init__(workdir)
        self.rule_files = list(rule_files)
        self.targets = list(targets)
        #: take samples on /api/v1/write (Prometheus' remote-write receiver)
        self.remote_write_receiver = remote_write_receiver
        self.port = free_port()

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        assert PROMETHEUS is not None, SKIP_REASON
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        targets = ", ".join(f'"{t}"' for t in self.targets)
        scrape = (f"scrape_configs:\n  - job_name: {self.job}\n    static_configs:\n"
                  f"      - targets: [{targets}]\n") if self.targets else ""
        rules = "".join(f'  - "{path}"\n' for path in self.rule_files)
        config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          + (f"rule_files:\n{rules}" if rules else "") + scrape)
        extra = ["--web.enable-remote-write-receiver"] if self.remote_write_receiver else []
        process = self.spawn(
            [PROMETHEUS, f"--config.file={config}",
             f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn", *extra])
        wait_serving(f"http://127.0.0.1:{self.port}/-/ready", process, timeout,
                     "prometheus", self.log)
        return self

    @property
    def write_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/write"

    async def query(self, promql: str, at: float | None = None) -> list[dict]:
        """An instant query (at ``at``, unix seconds, else now)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{self.port}/api/v1/query", params=params) as r:
            doc = await r.json()
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    async def scalar(self, promql: str, at: float | None = None) -> float | None:
        """The value of a query with one result (None: no result)."""
        result = await self.query(promql, at)
        return float(result[0]["value"][1]) if result else None
