"""The OpenTelemetry Collector as the first tier of a scale-out (issue 17), next to ours
(docs/scale-out.md, tests/e2e/test_scale_out.py).

The real Collector (tests/peers/otelcol) with its ``load_balancing`` exporter routing
traces and logs by trace id (``routing_key: traceID``, static resolver) to three
hangar-otelcol replicas, each on the shipped config with its own state directory and its
own in-process count-once ledger (no Redis: trace-id affinity puts a call's span and its
audit record on the same replica). Hangar-2.x-shaped load: every call's span on a
TraceService connection and its audit record on a LogsService connection.

1. ``routing_key: traceID`` as documented, for both signals: reported. In this release
   (contrib v0.159.0) the exporter hashes a span's trace id as its 16 raw bytes
   (trace_exporter.go: ``exporterAndEndpoint(tid[:])``) but a log record's as its 32-char
   hex string (log_exporter.go: ``traceID.String()``), so a call's span and its audit
   record land on the same replica only by chance (1 in 3 here); the replica with the
   span and no record derives one after the hold, and the call is counted twice.
2. The trace id copied into an attribute by the transform processor (``lb.trace_id``,
   ``span.trace_id.string`` / ``log.trace_id.string``) and ``routing_key: attributes`` on
   it: the same key for both signals, so trace-id affinity holds: every call counted
   exactly once across the replicas (the sum of their ``mcp_hangar_tool_calls_total`` is
   the number of calls, one compliance line per call) and no replica derived a record.
3. On that config, one replica removed from the static list under load (the Collector
   reloads its config on SIGHUP), then stopped: the Collector tier's sent / acknowledged /
   delivered / duplicated / lost are reported (a Tally line), not asserted beyond the run
   being bounded: the ring change splits the calls in flight across two replicas. Ours
   under the same kind of change (a replica killed under load, the shared ledger) loses
   and duplicates nothing: tests/e2e/test_scale_out.py.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.peers.otelcol import peer
from tests.support import configs
from tests.support.faults import CallSender, Tally, arrivals
from tests.support.gateway import GatewayProcess, shipped_gateway
from tests.support.metrics import scrape, total
from tests.support.waiting import eventually
from tests.support.workload import jsonl_calls

pytestmark = pytest.mark.faults

PRICING = "rules:\n  - {mcp_server_id: math, tool_name: add, usd_per_call: 0.01}\n"

REPLICA = """
extensions:
  health_check: {{endpoint: "127.0.0.1:{{health}}"}}
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{{grpc}}"}}
      http: {{endpoint: "127.0.0.1:{{http}}"}}
exporters:
  prometheus: {{endpoint: "127.0.0.1:{{prom}}"}}
  compliance: {{format: jsonlines, output: "{out}"}}
  debug: {{verbosity: basic}}
service:
  telemetry: {{metrics: {{address: "127.0.0.1:{{metrics}}"}}}}
"""


#: the trace id as an attribute, the same string for spans and log records
TRACE_ID_ATTRIBUTE = {"transform/lb": {
    "error_mode": "ignore",
    "trace_statements": ['set(span.attributes["lb.trace_id"], span.trace_id.string)'],
    "log_statements": ['set(log.attributes["lb.trace_id"], log.trace_id.string)'],
}}


def first_tier(ports: dict[str, int], backends: list[int], routing: str) -> str:
    """OTLP in; load_balancing over a static list of replicas (OTLP/gRPC), by trace id
    (``traceID``) or by the trace id copied into an attribute (``attribute``)."""
    by_attribute = routing == "attribute"
    balancing: dict[str, Any] = {
        "routing_key": "attributes" if by_attribute else "traceID",
        "protocol": {"otlp": {"tls": {"insecure": True}, "timeout": "5s"}},
        "resolver": {"static": {"hostnames": [f"127.0.0.1:{p}" for p in backends]}}}
    if by_attribute:
        balancing["routing_attributes"] = ["lb.trace_id"]
    return configs.dump({
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports['health']}"}},
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{ports['grpc']}"}}}},
        "processors": TRACE_ID_ATTRIBUTE if by_attribute else {},
        "exporters": {"load_balancing": balancing},
        "service": {"extensions": ["health_check"],
                    "telemetry": {"metrics": {"level": "none"}},
                    "pipelines": {signal: {"receivers": ["otlp"],
                                           "processors": list(TRACE_ID_ATTRIBUTE)
                                           if by_attribute else [],
                                           "exporters": ["load_balancing"]}
                                  for signal in ("traces", "logs")}},
    })


class Tier:
    """The Collector in front of three replicas of ours."""

    def __init__(self, tmp_path: Path, binary: str, routing: str) -> None:
        self.tmp = tmp_path
        self.binary = binary
        self.routing = routing
        (tmp_path / "pricing.yaml").write_text(PRICING)
        self.replicas: list[GatewayProcess] = []
        self.outputs: list[Path] = []
        self.ports: list[dict[str, int]] = []
        for i in range(3):
            out = tmp_path / f"r{i}.compliance.jsonl"
            gateway, ports = shipped_gateway(
                tmp_path, REPLICA.format(out=out), name=f"r{i}",
                env={"HANGAR_PRICING_FILE": str(tmp_path / "pricing.yaml")})
            self.replicas.append(gateway)
            self.outputs.append(out)
            self.ports.append(ports)
        self.front = {key: peer_port() for key in ("grpc", "health")}
        self.collector: Any = None
        self.stopped: set[int] = set()

    def start(self) -> None:
        for gateway in self.replicas:
            gateway.start()
        self.collector = peer.run(
            first_tier(self.front, [p["grpc"] for p in self.ports], self.routing),
            self.tmp / "first-tier")
        assert peer.wait_healthy(self.front["health"], timeout=30, proc=self.collector), \
            peer.log_text(self.collector)[-3000:]

    def reload(self, backends: list[int]) -> None:
        """Rewrite the Collector's config with these replicas and SIGHUP it."""
        self.collector.config_path.write_text(
            first_tier(self.front, [self.ports[i]["grpc"] for i in backends], self.routing))
        self.collector.send_signal(signal.SIGHUP)

    def stop(self) -> dict[str, int]:
        codes = {"collector": peer.stop(self.collector) if self.collector else 0}
        for i, gateway in enumerate(self.replicas):
            if i not in self.stopped:
                codes[f"r{i}"] = gateway.stop()
        return codes

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.front['grpc']}"

    def written(self) -> list[int | None]:
        return [n for out in self.outputs for n in jsonl_calls(out)]

    async def counts(self, last: dict[int, dict[str, float]]) -> dict[str, Any]:
        """Per replica (the last scrape of a stopped one): calls counted, spans and
        records accepted, spans covered by a local record, spans derived."""
        for i, ports in enumerate(self.ports):
            if i in self.stopped:
                continue
            own, prom = await scrape(ports["metrics"]), await scrape(ports["prom"])
            last[i] = {
                "calls": total(prom, "mcp_hangar_tool_calls_total"),
                "spans": total(own, "otelcol_receiver_accepted_spans_total", receiver="otlp"),
                "records": total(own, "otelcol_receiver_accepted_log_records_total",
                                 receiver="otlp"),
                "covered": total(own, "otelcol_connector_tool_audit_spans_total",
                                 outcome="covered"),
                "derived": total(own, "otelcol_connector_tool_audit_spans_total",
                                 outcome="derived"),
            }
        per = [last[i] for i in range(len(self.ports))]
        return {key: [int(p[key]) for p in per] for key in per[0]}


def peer_port() -> int:
    from hangar_otelcol.testing import free_port

    return free_port()


@pytest.fixture
def tier(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    binary = peer.binary()
    if binary is None:
        pytest.skip(peer.skip_reason())
    t = Tier(tmp_path, binary, request.param)
    try:
        t.start()
        yield t
    finally:
        codes = t.stop()
    assert set(codes.values()) <= {0}, (codes, [g.stderr()[-2000:] for g in t.replicas],
                                        peer.log_text(t.collector)[-2000:])


async def settled(tier: Tier, last: dict[int, dict[str, float]],
                  timeout: float = 90.0) -> dict[str, Any]:
    """The replicas' counters once nothing has changed for longer than the hold (7 s: a
    span that found no record by then is derived, and derived records keep arriving for
    a while), bounded by ``timeout``; the compliance files are part of "nothing changed"."""
    deadline = time.monotonic() + timeout
    seen, since = None, time.monotonic()
    while True:
        now = (await tier.counts(last), len(tier.written()))
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since > 9.0 or time.monotonic() > deadline:
            return now[0]
        await asyncio.sleep(1.0)


async def steady_run(tier: Tier, scenario: str) -> tuple[Tally, dict[str, Any]]:
    """400 hangar-2.x calls from 8 senders through the first tier, settled and tallied."""
    sender = CallSender(tier.target, threads=8, per_request=5, limit=400, hangar2=True)
    await asyncio.to_thread(sender.start().join, 120)
    counts = await settled(tier, {})
    tally = Tally(scenario)
    tally.notes.update(prometheus_calls=sum(counts["calls"]), **{
        f"{k}_per_replica": v for k, v in counts.items()})
    tally.settle(sender, arrivals(tier.written()))
    print(tally.line())
    return tally, counts


@pytest.mark.parametrize("tier", ["traceID"], indirect=True)
async def test_trace_id_routing_as_documented_splits_a_calls_span_from_its_record(
        tier: Tier) -> None:
    """Reported: how often the span and the record of one call met on one replica, and
    what the replicas counted. Asserted only what does not depend on the routing: every
    acknowledged call reached a replica's compliance file."""
    tally, counts = await steady_run(
        tier, "Collector first tier (load_balancing routing_key traceID), 3 replicas")
    assert tally.sent == tally.acknowledged == 400
    assert tally.lost == 0, tally.line()
    assert sum(counts["spans"]) == sum(counts["records"]) == 400, tally.line()


@pytest.mark.parametrize("tier", ["attribute"], indirect=True)
async def test_trace_id_as_routing_attribute_counts_each_call_once(tier: Tier) -> None:
    tally, counts = await steady_run(
        tier, "Collector first tier (load_balancing on lb.trace_id), 3 replicas")
    assert tally.sent == tally.acknowledged == 400
    assert tally.lost == 0 and tally.duplicated == 0, tally.line()
    assert sum(counts["calls"]) == 400, tally.line()
    # the load really was spread, and every span met its record on its replica
    assert all(n > 0 for n in counts["records"]), tally.line()
    assert counts["spans"] == counts["records"], tally.line()  # affinity: pairs stay together
    assert sum(counts["covered"]) == 400 and sum(counts["derived"]) == 0, tally.line()


@pytest.mark.parametrize("tier", ["attribute"], indirect=True)
async def test_a_replica_removed_from_the_collector_list_under_load(tier: Tier) -> None:
    """Reported, not asserted: what the Collector tier does when the ring changes under
    load (SIGHUP reload with two of the three replicas). The removed replica is drained
    as a scale-down does it: kept running past the hold (so the spans it holds are
    decided, against its own ledger), then stopped cleanly (SIGTERM: what it wrote is in
    its compliance file, its last counters are the last scrape)."""
    last: dict[int, dict[str, float]] = {}
    # no pause: every sender is always in the middle of a call's span/record pair, as a
    # busy hangar is, so the reload lands between the two halves of some calls
    sender = CallSender(tier.target, threads=8, per_request=10, hangar2=True,
                        deadline=60).start()
    try:
        await eventually(lambda: len(sender.acked) >= 400, 60, "400 calls acknowledged",
                         interval=0.1)
        acked_at_reload = len(sender.acked)
        reloaded_at = time.monotonic()
        tier.reload([0, 2])
        await eventually(lambda: "Config updated, restart service" in peer.log_text(
            tier.collector), 30, "the Collector reloading its config", interval=0.1)
        await eventually(lambda: len(sender.acked) >= acked_at_reload + 400, 90,
                         "400 more calls acknowledged after the reload", interval=0.1)
    finally:
        await asyncio.to_thread(sender.stop)
    # drained: nothing routes to it any more; past the hold its held spans are decided
    await asyncio.sleep(max(0.0, reloaded_at + 10.0 - time.monotonic()))
    await tier.counts(last)  # the removed replica's last counters
    tier.stopped.add(1)
    code = await asyncio.to_thread(tier.replicas[1].stop)
    assert code == 0, tier.replicas[1].stderr()[-3000:]
    counts = await settled(tier, last)
    tally = Tally("Collector first tier, one of 3 replicas removed under load (SIGHUP), "
                  "then stopped")
    tally.notes.update(acked_at_reload=acked_at_reload, gave_up=sender.gave_up,
                       prometheus_calls=sum(counts["calls"]),
                       **{f"{k}_per_replica": v for k, v in counts.items()})
    tally.settle(sender, arrivals(tier.written()))
    print(tally.line())
    # bounded and reported: the senders stopped in time (stop() asserts it), the tier
    # took load again after the reload, and the figures add up
    assert tally.acknowledged >= acked_at_reload + 400, tally.line()
    assert tally.delivered + tally.lost == tally.acknowledged
