"""The cost and call series pushed (docs/metrics-push.md), with real peers: the shipped
config with config/recipes/remote-write.yaml writes to a real Prometheus' remote-write
receiver, and the seed's three PromQL queries answer there exactly what they answer on a
real Prometheus scraping the same gateway's /metrics; with forward-otlp.yaml an OTLP
receiver gets the same totals as OTLP metrics, cumulative and delta, across ``--workers 2``
and a restart, no call counted twice."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tests.deploy_observability import promql
from tests.deploy_observability.test_live_gateway import grafana_expr
from tests.support.faults import CallSender
from tests.support.gateway import shipped_gateway
from tests.support.prometheus import PROMETHEUS, PrometheusServer
from tests.support.prometheus import SKIP_REASON as NO_PROMETHEUS
from tests.support.sinks import GrpcSink
from tests.support.waiting import eventually

PRICING = "currency: USD\nrules:\n  - mcp_server_id: math\n    tool_name: add\n" \
          "    usd_per_call: 0.01\n"
KNOWN = '[{mcp_server: math, tool: add, cost_model: fixed}]'
OVERLAY = """
extensions: {health_check: {endpoint: "127.0.0.1:{health}"}}
receivers:
  otlp: {protocols: {grpc: {endpoint: "127.0.0.1:{grpc}"}, http: {endpoint: "127.0.0.1:{http}"}}}
connectors:
  mcp_metrics: {interval: 1s, known_tools: KNOWN}
exporters:
  prometheus: {endpoint: "127.0.0.1:{prom}", known_tools: KNOWN}
service:
  telemetry: {metrics: {address: "127.0.0.1:{metrics}"}}
""".replace("KNOWN", KNOWN)

SEED = {
    "cost per server (1h)": "sum(increase(mcp_hangar_cost_cents_total[1h])) by (mcp_server)",
    "top tools by cost rate": "topk(10, sum(rate(mcp_hangar_cost_cents_total[5m])) by (tool))",
    "average cost per call": "sum(rate(mcp_hangar_cost_cents_total[5m])) by (mcp_server) / "
                             "sum(rate(mcp_hangar_cost_attributions_total[5m])) by (mcp_server)",
}


async def send_calls(port: int, first: int, count: int) -> None:
    sender = CallSender(f"127.0.0.1:{port}", threads=4, per_request=10, limit=count,
                        first_call=first)
    await asyncio.to_thread(sender.start().join, 60)
    assert len(sender.acked) == count


async def answers(prom: PrometheusServer) -> dict[str, list]:
    """The seed's queries, evaluated at the time of the newest cost sample (where neither
    a scrape nor a push extrapolates: tests/exporters/prometheus/test_prometheus_server.py)."""
    at = await prom.scalar("max(timestamp(mcp_hangar_cost_cents_total))")
    assert at is not None
    out = {}
    for name, query in SEED.items():
        result = await prom.query(query, at)
        out[name] = sorted((tuple(sorted(r["metric"].items())), float(r["value"][1]))
                           for r in result)
    return out


@pytest.mark.prometheus
@pytest.mark.skipif(PROMETHEUS is None, reason=NO_PROMETHEUS)
async def test_remote_write_answers_the_seed_queries_like_a_scrape(tmp_path: Path) -> None:
    (tmp_path / "pricing.yaml").write_text(PRICING)
    pushed = PrometheusServer(tmp_path / "pushed", remote_write_receiver=True,
                              rule_files=promql.RULE_FILES).start()
    gateway, ports = shipped_gateway(
        tmp_path, OVERLAY, recipes=["remote-write"],
        env={"PROMETHEUS_REMOTE_WRITE_URL": pushed.write_url,
             "HANGAR_PRICING_FILE": str(tmp_path / "pricing.yaml")})
    scraped = PrometheusServer(tmp_path / "scraped", [f"127.0.0.1:{ports['prom']}"])
    try:
        gateway.start()
        scraped.start()
        cost = 'mcp_hangar_cost_cents_total{mcp_server="math",tool="add"}'
        for prom in (pushed, scraped):  # the pinned series at 0 first: increase() sees all
            await eventually(lambda p=prom: _equals(p, cost, 0.0), 30,
                             f"{cost} == 0 in {prom.workdir.name}", interval=0.2)
        await send_calls(ports["grpc"], 0, 120)
        for prom in (pushed, scraped):
            await eventually(lambda p=prom: _equals(p, cost, 120 * 100.0), 30,
                             f"{cost} == 12000 in {prom.workdir.name}", interval=0.2)
        await asyncio.sleep(2.5)  # a few more samples of the final values on both sides
        by_push, by_scrape = await answers(pushed), await answers(scraped)
        print("seed queries by remote write:", by_push)
        assert by_push == by_scrape
        server = (("mcp_server", "math"),)
        assert by_push["cost per server (1h)"] == [(server, 12000.0)]
        assert by_push["average cost per call"] == [(server, 100.0)]
        calls = await pushed.scalar('sum(mcp_hangar_tool_calls_total{job="hangar-otelcol"})')
        assert calls == 120
        # the shipped dashboard and rules (deploy/) work unchanged on pushed series: every
        # cost and call panel that has data by scrape has data by remote write
        doc = promql.dashboard()
        differ = [q.where for q in promql.dashboard_queries(doc) if "mcp_hangar_" in q.expr
                  and bool(await pushed.query(grafana_expr(q.expr)))
                  != bool(await scraped.query(grafana_expr(q.expr)))]
        assert differ == []
        for rule in ("mcp_server:mcp_hangar_cost_cents:increase1h",
                     "mcp_server:mcp_hangar_cost_cents_per_attribution:ratio_rate5m"):
            await eventually(lambda r=rule: _has(pushed, r), 30, f"{rule} evaluated",
                             interval=0.5)
    finally:
        scraped.stop()
        pushed.stop()
        assert gateway.stop() == 0, gateway.stderr()[-3000:]


async def _equals(prom: PrometheusServer, query: str, value: float) -> bool:
    return await prom.scalar(query) == value


async def _has(prom: PrometheusServer, query: str) -> bool:
    return bool(await prom.query(query))


def sink_totals(sink: GrpcSink) -> tuple[dict[str, float], dict[str, set[int]], int]:
    """From the metric points received: the calls counted (cumulative: each instance's
    newest point per series; delta: every point), the start times per instance, and how
    many instances reported."""
    newest: dict[tuple, tuple[int, int]] = {}
    delta_sum: dict[str, float] = defaultdict(float)
    starts: dict[str, set[int]] = defaultdict(set)
    for resource, _, metric in sink.records("metrics"):
        if metric.name != "mcp_hangar_tool_calls":
            continue
        instance = next(a.value.string_value for a in resource.attributes
                        if a.key == "service.instance.id")
        for point in metric.sum.data_points:
            key = (instance, tuple((a.key, a.value.string_value) for a in point.attributes))
            if metric.sum.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_DELTA:
                delta_sum["delta"] += point.as_int
            else:
                starts[instance].add(point.start_time_unix_nano)
                if key not in newest or point.time_unix_nano >= newest[key][0]:
                    newest[key] = (point.time_unix_nano, point.as_int)
    totals = dict(delta_sum)
    totals["cumulative"] = float(sum(v for _, v in newest.values()))
    instances = {k[0] for k in newest} | set(starts)
    return totals, starts, len(instances)


@pytest.mark.parametrize("temporality", ["cumulative", "delta"])
async def test_otlp_metrics_count_each_call_once_across_workers_and_a_restart(
        tmp_path: Path, temporality: str) -> None:
    sink = await GrpcSink().start()
    (tmp_path / "pricing.yaml").write_text(PRICING)
    gateway, ports = shipped_gateway(
        tmp_path, OVERLAY, recipes=["forward-otlp"],
        env={"DOWNSTREAM_OTLP_ENDPOINT": sink.endpoint, "DOWNSTREAM_OTLP_INSECURE": "true",
             "HANGAR_OTELCOL_METRICS_TEMPORALITY": temporality,
             "HANGAR_PRICING_FILE": str(tmp_path / "pricing.yaml")})
    gateway.extra_args += ["--workers", "2"]
    try:
        gateway.start()
        await send_calls(ports["grpc"], 0, 200)
        await eventually(lambda: sink_totals(sink)[0].get(temporality) == 200, 30,
                         lambda: f"200 calls in the OTLP metrics ({sink_totals(sink)[0]})",
                         interval=0.2)
        assert gateway.stop() == 0, gateway.stderr()[-3000:]
        _, starts_before, _ = sink_totals(sink)
        gateway.start()  # the same state directory: the counters continue
        await send_calls(ports["grpc"], 200, 100)
        await eventually(lambda: sink_totals(sink)[0].get(temporality) == 300, 30,
                         lambda: f"300 calls in the OTLP metrics ({sink_totals(sink)[0]})",
                         interval=0.2)
        await asyncio.sleep(2.5)  # more pushes: nothing more may be counted
        totals, starts, instances = sink_totals(sink)
        print(f"otlp metrics ({temporality}, --workers 2, restarted): {totals}, "
              f"{instances} instances")
        assert totals[temporality] == 300
        if temporality == "cumulative":
            # each worker's series continue after the restart from the same start time
            assert instances == 2 and starts == starts_before, (starts, starts_before)
            assert all(len(s) == 1 for s in starts.values()), starts
    finally:
        gateway.stop()
        await sink.stop()
