"""The disk fills up: the gateway's store (file_storage, limited to 4 MiB here) is full
while the OTLP backend is down, so nothing can leave it.

A user expects the gateway to stay up and refuse new data with an answer SDKs retry
(UNAVAILABLE with a retry hint), never to drop what it had acknowledged; once the backend
is back and the store drains, the refused data is sent again by the clients and accepted.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hangar_otelcol.testing import free_port
from tests.support import configs
from tests.support.faults import CallSender, Tally, arrivals, drain, stopping
from tests.support.faults_otlp import forwarded
from tests.support.gateway import shipped_gateway
from tests.support.metrics import scrape
from tests.support.sinks import GrpcSink
from tests.support.waiting import eventually

pytestmark = pytest.mark.faults


async def test_a_full_store_refuses_retryably_and_loses_nothing(
        tmp_path: Path, fault_report) -> None:
    backend = GrpcSink(free_port())  # down until the store is full
    overlay = configs.shipped_overlay(extensions={"file_storage": {"max_size": "4MiB"}},
                                      service=configs.SELF_METRICS)
    gateway, ports = shipped_gateway(
        tmp_path, overlay, recipes=["forward-otlp"],
        env={"DOWNSTREAM_OTLP_ENDPOINT": f"127.0.0.1:{backend.port}",
             "DOWNSTREAM_OTLP_INSECURE": "true"})
    await asyncio.to_thread(gateway.start)
    sender = CallSender(f"127.0.0.1:{ports['grpc']}", threads=4, per_request=50,
                        pause=0.02).start()
    async with stopping(sender, gateway, then=backend.stop):
        await eventually(lambda: sender.refusals, 60, "a refusal from the full store",
                         interval=0.1)
        await asyncio.sleep(3.0)  # full for a while: still refusing, still up
        acked_when_full = len(sender.acked)
        refusing = await scrape(ports["metrics"])
        await backend.start()
        await asyncio.sleep(3.0)
        await drain(sender, lambda: forwarded(backend), "at the backend")
    tally = Tally("store full (file_storage max_size 4MiB, backend down)").settle(
        sender, arrivals(forwarded(backend)))
    tally.notes["acknowledged_until_full"] = acked_when_full
    fault_report(tally)
    assert tally.acknowledged == tally.sent and tally.lost == 0, tally.line()
    assert tally.duplicated == 0, tally.line()
    # every refusal was retryable and said when to retry; the gateway counted them
    assert set(sender.refusals) <= {"UNAVAILABLE", "RESOURCE_EXHAUSTED"}, sender.refusals
    assert sender.hinted == sum(sender.refusals.values())
    refused = sum(v for (name, labels), v in refusing.items()
                  if name == "otelcol_receiver_failed_requests_total"
                  and ("reason", "refused_retryable") in labels)
    assert refused >= 1
    assert "Traceback" not in gateway.stderr()
