"""A real Prometheus (Debian package ``prometheus``) scrapes the gateway and answers the
seed's three PromQL queries with the hand-computed values.

Exactness: the priced tools are listed in ``known_tools`` so their series exist at 0 before
the first call (otherwise Prometheus cannot see a series' first increment), and queries are
evaluated at the timestamp of the last scrape, where Prometheus extrapolates by exactly 0.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.exporters.prometheus import chain as gc
from tests.support.prometheus import PrometheusServer
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


async def wait_for(prom: PrometheusServer, promql: str, value: float) -> None:
    """Poll (bounded: 60 s) until ``promql`` has ``value``."""
    async def has_value() -> bool:
        assert prom.process is not None and prom.process.poll() is None, prom.log()
        try:
            return await prom.scalar(promql) == value
        except aiohttp.ClientError:
            return False

    await eventually(has_value, 60, f"prometheus to see {promql} == {value}", interval=0.2)


async def test_seed_promql_answers(tmp_path: Path) -> None:
    chain = gc.Chain(tmp_path, {"endpoint": "127.0.0.1:0", "known_tools": [
        {"mcp_server": "math", "tool": t, "cost_model": "fixed"}
        for t in ("add", "multiply", "divide")]})
    await chain.exporter.start(chain.host)
    prom = PrometheusServer(tmp_path / "prometheus",
                            [f"127.0.0.1:{chain.exporter.port}"]).start()
    try:
        # the zero-valued series have been scraped at least once
        await wait_for(prom, "count(mcp_hangar_cost_cents_total == 0)", 3)
        for version in ("1.1.0", "1.6.3", "2.34.4"):
            await chain.replay(version)
        # hand totals: 1.1.0 add 30 multiply 50 divide 10; 1.6.3 and 2.34.4 add 30
        # multiply 50 each -> add 90, multiply 150, divide 10; 13 priced calls
        await wait_for(prom, "sum(mcp_hangar_cost_cents_total)", 250)
        await wait_for(prom, "sum(mcp_hangar_cost_attributions_total)", 13)
        # evaluate at the last scrape's own timestamp (not "now"): no extrapolation
        at = await prom.scalar("max(timestamp(mcp_hangar_cost_attributions_total))")

        per_server = await prom.query(Q_COST_PER_SERVER, at)
        assert [(r["metric"], float(r["value"][1])) for r in per_server] == [
            ({"mcp_server": "math"}, 250.0)]

        top = await prom.query(Q_TOP_TOOLS, at)
        got = {r["metric"]["tool"]: float(r["value"][1]) for r in top}
        # exact up to float rounding of Prometheus' own (delta * 1.0) / 300
        assert got == pytest.approx({"multiply": 150 / 300, "add": 90 / 300,
                                     "divide": 10 / 300}, rel=1e-12)

        avg = await prom.query(Q_AVG_COST, at)
        assert len(avg) == 1 and avg[0]["metric"] == {"mcp_server": "math"}
        assert float(avg[0]["value"][1]) == pytest.approx(250 / 13, rel=1e-12)
    finally:
        prom.stop()
        await chain.exporter.shutdown()
