"""A real Prometheus (Debian package ``prometheus``) scrapes the gateway and answers the
seed's three PromQL queries with the hand-computed values.

Exactness: the priced tools are listed in ``known_tools`` so their series exist at 0 before
the first call (otherwise Prometheus cannot see a series' first increment), and queries are
evaluated at the timestamp of the last scrape, where Prometheus extrapolates by exactly 0.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from hangar_otelcol.testing import free_port
from tests.exporters.prometheus import chain as gc
from tests.support.processes import terminate
from tests.support.waiting import eventually

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(shutil.which("prometheus") is None,
                       reason="prometheus not installed (apt-get install prometheus)"),
]

Q_COST_PER_SERVER = "sum(increase(mcp_hangar_cost_cents_total[1h])) by (mcp_server)"
Q_TOP_TOOLS = "topk(10, sum(rate(mcp_hangar_cost_cents_total[5m])) by (tool))"
Q_AVG_COST = ("sum(rate(mcp_hangar_cost_cents_total[5m])) by (mcp_server)\n"
              "/ sum(rate(mcp_hangar_cost_attributions_total[5m])) by (mcp_server)")


async def query(session: aiohttp.ClientSession, port: int, promql: str,
                at: float | None = None) -> list[dict]:
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    async with session.get(f"http://127.0.0.1:{port}/api/v1/query", params=params) as r:
        doc = await r.json()
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


async def wait_for(session: aiohttp.ClientSession, port: int, promql: str, value: float,
                   proc: subprocess.Popen) -> None:
    """Poll (bounded: 60 s) until ``promql`` has ``value``."""
    async def has_value() -> bool:
        assert proc.poll() is None, "prometheus exited"
        try:
            result = await query(session, port, promql)
        except aiohttp.ClientError:
            return False
        return bool(result) and float(result[0]["value"][1]) == value

    await eventually(has_value, 60, f"prometheus to see {promql} == {value}", interval=0.2)


async def test_seed_promql_answers(tmp_path: Path) -> None:
    chain = gc.Chain(tmp_path, {"endpoint": "127.0.0.1:0", "known_tools": [
        {"mcp_server": "math", "tool": t, "cost_model": "fixed"}
        for t in ("add", "multiply", "divide")]})
    await chain.exporter.start(chain.host)
    prom_port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gateway
    static_configs:
      - targets: ["127.0.0.1:{chain.exporter.port}"]
""")
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as s:
            # the zero-valued series have been scraped at least once
            await wait_for(s, prom_port, "count(mcp_hangar_cost_cents_total == 0)", 3, proc)
            for version in ("1.1.0", "1.6.3", "2.34.4"):
                await chain.replay(version)
            # hand totals: 1.1.0 add 30 multiply 50 divide 10; 1.6.3 and 2.34.4 add 30
            # multiply 50 each -> add 90, multiply 150, divide 10; 13 priced calls
            await wait_for(s, prom_port, "sum(mcp_hangar_cost_cents_total)", 250, proc)
            await wait_for(s, prom_port, "sum(mcp_hangar_cost_attributions_total)", 13, proc)
            # evaluate at the last scrape's own timestamp (not "now"): no extrapolation
            at = float((await query(s, prom_port, "max(timestamp("
                                    "mcp_hangar_cost_attributions_total))"))[0]["value"][1])

            per_server = await query(s, prom_port, Q_COST_PER_SERVER, at)
            assert [(r["metric"], float(r["value"][1])) for r in per_server] == [
                ({"mcp_server": "math"}, 250.0)]

            top = await query(s, prom_port, Q_TOP_TOOLS, at)
            got = {r["metric"]["tool"]: float(r["value"][1]) for r in top}
            # exact up to float rounding of Prometheus' own (delta * 1.0) / 300
            assert got == pytest.approx({"multiply": 150 / 300, "add": 90 / 300,
                                         "divide": 10 / 300}, rel=1e-12)

            avg = await query(s, prom_port, Q_AVG_COST, at)
            assert len(avg) == 1 and avg[0]["metric"] == {"mcp_server": "math"}
            assert float(avg[0]["value"][1]) == pytest.approx(250 / 13, rel=1e-12)
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):  # killed by then
            terminate(proc, 15)
        await chain.exporter.shutdown()
