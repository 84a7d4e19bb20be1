"""SIGKILL under load, side by side with the OpenTelemetry Collector (issue 17).

The same kill test as test_sigkill.py (16 clients sending numbered hangar audit records,
100 per request, retrying until acknowledged; three SIGKILLs 2 s apart, each followed by a
restart on the same state), in the topology the Collector has: OTLP in, a persistent
queue, OTLP out to a sink. Counted at the sink: every acknowledged call, how often.

- hangar-otelcol: the shipped config + config/recipes/forward-otlp.yaml (its sending
  queue in file_storage, as shipped). Asserted: nothing acknowledged is lost.
- the Collector (tests/peers/otelcol), ``sending_queue.storage: file_storage`` on its
  ``otlp_grpc`` exporter, as its docs recommend for durability; once without a batch
  processor, once with one in front (the usual pipeline). Reported, not asserted beyond
  the run being bounded.

OTLP out is at least once for both: a batch sent but not yet marked done when the process
dies is sent again after the restart, and a client's retry of a request that was
committed but not answered arrives twice, so duplicates at the sink are expected and
reported (the compliance outputs of ours remove them by record id: test_sigkill.py).
Each Tally line has the figures per kill: calls acknowledged since the previous kill that
were lost or arrived more than once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hangar_otelcol.testing import free_port
from tests.peers.otelcol import peer
from tests.support import configs
from tests.support.faults import CallSender, Tally, arrivals
from tests.support.gateway import shipped_gateway
from tests.support.sinks import GrpcSink
from tests.support.workload import call_number

pytestmark = pytest.mark.faults

KILLS = 3
UNDER_LOAD = 2.0  # seconds of load between two kills, as in test_sigkill.py


def sink_calls(sink: GrpcSink) -> list[int | None]:
    """The call number of every log record the sink received."""
    return [call_number(record.trace_id.hex()) for _, _, record in sink.records("logs")]


def collector_config(ports: dict[str, int], sink: GrpcSink, storage: Path,
                     batch: bool) -> str:
    processors = {"batch": {}} if batch else {}
    return configs.dump({
        "extensions": {
            "health_check": {"endpoint": f"127.0.0.1:{ports['health']}"},
            "file_storage": {"directory": str(storage), "create_directory": True},
        },
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{ports['grpc']}"}}}},
        "processors": processors,
        "exporters": {"otlp_grpc": {
            "endpoint": f"127.0.0.1:{sink.port}", "tls": {"insecure": True},
            "sending_queue": {"storage": "file_storage"},
            # retried as long as ours retries (forward-otlp: no limit); the test is bounded
            "retry_on_failure": {"max_elapsed_time": "0s"}}},
        "service": {"extensions": ["health_check", "file_storage"],
                    "telemetry": {"metrics": {"level": "none"}},
                    "pipelines": {"logs": {"receivers": ["otlp"],
                                           "processors": list(processors),
                                           "exporters": ["otlp_grpc"]}}},
    })


class Killable:
    """Start, SIGKILL, start again on the same state: ours or the Collector."""

    def __init__(self, start: Callable[[], None], kill: Callable[[], None],
                 stop: Callable[[], int], target: str) -> None:
        self.start, self.kill, self.stop, self.target = start, kill, stop, target


def ours(tmp_path: Path, sink: GrpcSink) -> Killable:
    gateway, ports = shipped_gateway(
        tmp_path, configs.shipped_overlay(), recipes=["forward-otlp"],
        env={"DOWNSTREAM_OTLP_ENDPOINT": sink.endpoint, "DOWNSTREAM_OTLP_INSECURE": "true"})
    return Killable(gateway.start, gateway.kill, gateway.stop, f"127.0.0.1:{ports['grpc']}")


def otelcol(tmp_path: Path, sink: GrpcSink, batch: bool) -> Killable:
    if peer.binary() is None:
        pytest.skip(peer.skip_reason())
    ports = {"grpc": free_port(), "health": free_port()}
    config = collector_config(ports, sink, tmp_path / "file_storage", batch)
    procs: list[Any] = []

    def start() -> None:
        procs.append(peer.run(config, tmp_path / "otelcol"))
        assert peer.wait_healthy(ports["health"], timeout=30, proc=procs[-1]), \
            peer.log_text(procs[-1])[-3000:]

    def kill() -> None:
        procs[-1].kill()
        procs[-1].wait(10)

    return Killable(start, kill, lambda: peer.stop(procs[-1]), f"127.0.0.1:{ports['grpc']}")


def per_kill(acked_by_kill: list[frozenset[int]], acked: set[int],
             arrived: Counter[int]) -> list[dict[str, int]]:
    """Lost and duplicated calls among those acknowledged since the previous kill (the
    last entry: after the last kill)."""
    out, before = [], frozenset[int]()
    for upto in [*acked_by_kill, frozenset(acked)]:
        window = upto - before
        out.append({"acked": len(window),
                    "lost": sum(1 for n in window if not arrived[n]),
                    "duplicated": sum(arrived[n] - 1 for n in window if arrived[n] > 1)})
        before = upto
    return out


async def kill_under_load(target: Killable, sink: GrpcSink, scenario: str) -> Tally:
    await asyncio.to_thread(target.start)
    sender = CallSender(target.target, threads=16, per_request=100, deadline=90).start()
    acked_by_kill: list[frozenset[int]] = []
    try:
        for _ in range(KILLS):
            await asyncio.sleep(UNDER_LOAD)
            target.kill()
            acked_by_kill.append(frozenset(sender.acked))
            await asyncio.sleep(0.5)  # the clients find it gone and retry
            await asyncio.to_thread(target.start)
        await asyncio.sleep(UNDER_LOAD)
    finally:
        await asyncio.to_thread(sender.stop)
    # bounded: until every acknowledged call arrived, or nothing more arrives for 10 s
    seen, since, deadline = -1, time.monotonic(), time.monotonic() + 90
    while not sender.acked <= set(sink_calls(sink)) and time.monotonic() < deadline:
        if len(sink.received) != seen:
            seen, since = len(sink.received), time.monotonic()
        elif time.monotonic() - since > 10:
            break
        await asyncio.sleep(0.2)
    code = await asyncio.to_thread(target.stop)
    assert code == 0
    arrived = arrivals(sink_calls(sink))
    tally = Tally(scenario).settle(sender, arrived)
    tally.notes["per_kill"] = per_kill(acked_by_kill, sender.acked, arrived)
    tally.notes["gave_up"] = sender.gave_up
    return tally


@pytest.fixture
async def sink() -> Any:
    s = await GrpcSink().start()
    yield s
    await s.stop()


async def test_ours_forwarding_over_otlp_loses_nothing_acknowledged(
        tmp_path: Path, sink: GrpcSink, fault_report: Callable[[Tally], None]) -> None:
    tally = await kill_under_load(ours(tmp_path, sink), sink,
                                  "sigkill x3, hangar-otelcol (shipped + forward-otlp) -> sink")
    fault_report(tally)
    assert tally.notes["gave_up"] == 0
    assert tally.acknowledged == tally.sent > 1000
    assert tally.lost == 0, tally.line()


@pytest.mark.parametrize("batch", [False, True], ids=["no-batch", "batch"])
async def test_collector_with_a_persistent_queue(
        tmp_path: Path, sink: GrpcSink, fault_report: Callable[[Tally], None],
        batch: bool) -> None:
    what = "batch + persistent queue" if batch else "persistent queue"
    tally = await kill_under_load(otelcol(tmp_path, sink, batch), sink,
                                  f"sigkill x3, otelcol ({what}, file_storage) -> sink")
    fault_report(tally)
    # reported: the run was bounded (the senders and the drain above are) and acknowledged
    # enough to mean something; the figures are the Collector's
    assert tally.acknowledged > 1000, tally.line()
    assert tally.delivered + tally.lost == tally.acknowledged
