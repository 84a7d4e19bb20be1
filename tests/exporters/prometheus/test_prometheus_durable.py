"""Counters that are bills: each call counted once, and across a crash and a restart the
counters continue from their last value (a persistent queue on a real SQLite file_storage;
the real capture of hangar 2.34.4 through the real caller and cost processors)."""

from __future__ import annotations

from pathlib import Path

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.exporters.prometheus.factory import FACTORY
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.factory import FACTORY as COST
from hangar_otelcol.testing import make_settings
from tests.support import captures as hc
from tests.support.durable import DurableExporter
from tests.support.metrics import scrape, series

#: the capture's six calls, one tenth of a cent each
PRICING = {"rules": [{"usd_per_call": 0.001}]}


class Gateway(DurableExporter):
    def __init__(self, state: Path) -> None:
        super().__init__(FACTORY, state, {"endpoint": "127.0.0.1:0", "count_spans": False})
        self.head = COST.create(make_settings(Kind.PROCESSOR, "mcp_cost", self.telemetry),
                                build(CostConfig, PRICING), Signal.LOGS, self.exporter)

    async def send(self, run: int = 0) -> None:
        """The capture's audit records (``run``: the same calls made again)."""
        for part in hc.load("2.34.4", run=run):
            if hc.signal_of(part) is Signal.LOGS:
                await self.head.consume(Batch(Signal.LOGS, [part]))

    async def totals(self) -> tuple[float, float]:
        got = await scrape(self.exporter.port)
        calls = sum(v for (name, _), v in got.items() if name == "mcp_hangar_tool_calls_total")
        return calls, series(got, "mcp_hangar_cost_cents_total", mcp_server="math",
                             tool="add", cost_model="fixed")


async def test_counters_continue_after_a_clean_restart(tmp_path: Path) -> None:
    first = await Gateway(tmp_path).start()
    await first.send()
    assert await first.exporter.idle(5)
    assert await first.totals() == (6, 30)  # six calls; three adds at 10 each
    await first.stop()
    second = await Gateway(tmp_path).start()
    assert await second.totals() == (6, 30)  # not back to 0
    await second.send(run=1)  # six new calls
    assert await second.exporter.idle(5)
    assert await second.totals() == (12, 60)
    await second.stop()


async def test_a_crash_neither_loses_nor_doubles_a_count(tmp_path: Path) -> None:
    first = await Gateway(tmp_path).start()
    await first.send()
    assert await first.exporter.idle(5)
    await first.kill()  # counted in memory, the 1 s checkpoint not yet saved
    second = await Gateway(tmp_path).start()
    assert await second.exporter.idle(5)  # the queued calls are counted again, once
    assert await second.totals() == (6, 30)
    await second.send()  # the sender retries the same records after the crash
    assert await second.exporter.idle(5)
    assert await second.totals() == (6, 30)
    repeats = second.telemetry.counter("otelcol_exporter_prometheus_invocations_total", "",
                                       ()).get(("prometheus", "repeat"))
    assert repeats == 6
    await second.stop()


async def test_a_record_seen_again_counts_once(tmp_path: Path) -> None:
    gw = await Gateway(tmp_path).start()
    for _ in range(3):
        await gw.send()
    assert await gw.exporter.idle(5)
    assert await gw.totals() == (6, 30)
    await gw.stop()
