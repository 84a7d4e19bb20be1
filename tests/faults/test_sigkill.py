"""SIGKILL under load, three times, with the shipped config and compliance to a file.

What a user checks afterwards: every call the gateway acknowledged is in the compliance file
exactly once, and the Prometheus call counter equals the number of calls acknowledged (it
continued after each restart instead of starting again from zero). The clients retry what
was not acknowledged, as an SDK exporter does, so some calls arrive twice at the gateway;
record ids keep them from being written or counted twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support import configs
from tests.support.faults import CallSender, Tally, arrivals, drain, stopping
from tests.support.gateway import shipped_gateway
from tests.support.metrics import scrape
from tests.support.workload import jsonl_calls

pytestmark = pytest.mark.faults

KILLS = 3
UNDER_LOAD = 2.0  # seconds of load between two kills


async def test_sigkill_under_load_loses_nothing_and_writes_each_call_once(
        tmp_path: Path, fault_report) -> None:
    out = tmp_path / "compliance.jsonl"
    overlay = configs.shipped_overlay(
        exporters={"compliance": {"format": "jsonlines", "output": str(out)}})
    gateway, ports = shipped_gateway(tmp_path, overlay)
    await asyncio.to_thread(gateway.start)
    sender = CallSender(f"127.0.0.1:{ports['grpc']}", threads=16, per_request=100).start()
    written_before_kill = []
    async with stopping(sender, gateway):
        for _ in range(KILLS):
            await asyncio.sleep(UNDER_LOAD)
            gateway.kill()
            written_before_kill.append(len(jsonl_calls(out)))
            await asyncio.sleep(0.5)  # the clients find it gone and retry
            await asyncio.to_thread(gateway.start)
        await asyncio.sleep(UNDER_LOAD)
        await drain(sender, lambda: jsonl_calls(out), "in the file", 60)
        counted = await scrape(ports["prom"])

    arrived = arrivals(jsonl_calls(out))
    prometheus_calls = sum(v for (name, _), v in counted.items()
                           if name == "mcp_hangar_tool_calls_total")
    tally = Tally("sigkill x3 (shipped config, compliance file)").settle(sender, arrived)
    tally.notes["prometheus_calls"] = int(prometheus_calls)
    tally.notes["written_at_kills"] = written_before_kill
    fault_report(tally)
    assert sender.gave_up == 0
    assert tally.acknowledged == tally.sent > 1000
    assert tally.lost == 0 and tally.duplicated == 0, tally.line()
    assert set(arrived) == sender.acked  # nothing else in the file either
    assert prometheus_calls == tally.acknowledged
