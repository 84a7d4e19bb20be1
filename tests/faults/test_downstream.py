"""The OTLP backend the gateway forwards to (config/recipes/forward-otlp.yaml) is down for
20 s and comes back, or answers slower than the exporter's timeout; clients keep sending.

Down: what was acknowledged waits on disk and arrives once the backend is back, each call
once. Slow: the backend takes every request but answers late, so a request the exporter
gave up on did arrive; only the batches in flight at the first timeout are sent twice (the
exporter waits longer from then on) and the queue drains.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hangar_otelcol.pdata import Signal
from tests.support import configs
from tests.support.faults import CallSender, Tally, arrivals, drain, stopping
from tests.support.faults_otlp import forwarded
from tests.support.gateway import shipped_gateway
from tests.support.sinks import GrpcSink

pytestmark = pytest.mark.faults

OUTAGE = 20.0


def forwarding_gateway(tmp_path: Path, sink_port: int, **downstream: object):
    overlay = configs.shipped_overlay(exporters={"otlp/downstream": downstream})
    env = {"DOWNSTREAM_OTLP_ENDPOINT": f"127.0.0.1:{sink_port}",
           "DOWNSTREAM_OTLP_INSECURE": "true"}
    return shipped_gateway(tmp_path, overlay, env=env, recipes=["forward-otlp"])


async def test_backend_down_for_20s_gets_everything_once_when_back(
        tmp_path: Path, fault_report) -> None:
    first = await GrpcSink().start()
    gateway, ports = forwarding_gateway(tmp_path, first.port)
    await asyncio.to_thread(gateway.start)
    sender = CallSender(f"127.0.0.1:{ports['grpc']}", threads=4, per_request=50,
                        pause=0.05).start()
    second = GrpcSink(first.port)
    async with stopping(sender, gateway, then=second.stop):
        await asyncio.sleep(2.0)
        await first.stop()
        await asyncio.sleep(OUTAGE)
        acked_in_outage = len(sender.acked)
        await second.start()
        back = time.monotonic()
        await asyncio.sleep(2.0)
        await drain(sender, lambda: forwarded(first, second), "at the backend")
        caught_up = time.monotonic() - back
    tally = Tally(f"backend down {OUTAGE:g}s (forward-otlp)").settle(
        sender, arrivals(forwarded(first, second)))
    tally.notes.update(acknowledged_while_down=acked_in_outage,
                       caught_up_s=round(caught_up, 1))
    fault_report(tally)
    assert tally.acknowledged == tally.sent and tally.lost == 0, tally.line()
    assert tally.duplicated == 0, tally.line()


async def test_backend_slower_than_the_timeout_gets_few_copies_and_the_queue_drains(
        tmp_path: Path, fault_report) -> None:
    sink = await GrpcSink().start()
    sink.slow = 1.5  # takes each request at once, answers after 1.5 s: past the timeout
    gateway, ports = forwarding_gateway(tmp_path, sink.port, timeout="1s")
    await asyncio.to_thread(gateway.start)
    sender = CallSender(f"127.0.0.1:{ports['grpc']}", threads=4, per_request=50,
                        pause=0.05).start()
    async with stopping(sender, gateway, then=sink.stop):
        await asyncio.sleep(8.0)
        await drain(sender, lambda: forwarded(sink), "at the backend")
        requests = len(sink.requests(Signal.LOGS))
    tally = Tally("backend slower than the timeout (1.5 s vs 1 s)").settle(
        sender, arrivals(forwarded(sink)))
    tally.notes["backend_requests"] = requests
    fault_report(tally)
    assert tally.acknowledged == tally.sent and tally.lost == 0, tally.line()
    # at most the batches in flight at the first timeout (10 consumers) arrive twice
    assert tally.duplicated <= tally.delivered * 10 // max(requests, 1) + 1, tally.line()
