"""The dashboard and the rules against a live gateway on the shipped config
(config/gateway.yaml, ports moved to free ones on 127.0.0.1, self-metrics on), fed with
hangar-shaped traffic: every metric name they use is on its /metrics pages, and a real
Prometheus scraping it evaluates every rule (health ok, values where the traffic makes
them) and every dashboard query (data, with the variables set to All)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy_observability import promql
from tests.support import configs, sdk_data, workload
from tests.support.gateway import GatewayProcess, shipped_gateway
from tests.support.metrics import Samples, samples, series
from tests.support.paths import REPO
from tests.support.prometheus import PrometheusServer
from tests.support.waiting import wait_for

#: (server, tool, caller id, caller type, status): config/pricing.example.yaml prices math
#: at 25 per call, geocode at 50, sandbox by the minute; failed calls are not priced
CALLS = [("math", "add", "alice", "human", "success"),
         ("geo", "geocode", "ci-bot", "service", "success"),
         ("math", "divide", "alice", "human", "error"),
         ("sandbox", "run", "bob", "agent", "success")]
EACH = 3


@dataclass
class Live:
    gateway: GatewayProcess
    ports: dict[str, int]
    sent: dict[tuple[str, str, str], int] = field(default_factory=dict)
    next_call: int = 1

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"

    def send_calls(self, calls: list[tuple[str, str, str, str, str]], each: int) -> None:
        """Hangar 2.x audit records (tests/support/workload.py), ``each`` per call kind,
        over OTLP/gRPC with the SDK's exporter; then wait until Prometheus counts them."""
        exporter = OTLPLogExporter(endpoint=self.grpc, insecure=True, timeout=10)
        try:
            for server, tool, caller, caller_type, status in calls:
                extra: dict[str, Any] = {
                    "mcp.server.id": server, "gen_ai.tool.name": tool,
                    "mcp.caller.id": caller, "mcp.caller.type": caller_type,
                    "mcp.tool.status": status, "mcp.tool.duration_ms": 1500.0}
                if status == "error":
                    extra["mcp.tool.error_type"] = "TimeoutError"
                records = workload.sdk_calls(self.next_call, each, extra)
                assert exporter.export(records).name == "SUCCESS"
                self.next_call += each
                key = (server, tool, status)
                self.sent[key] = self.sent.get(key, 0) + each
        finally:
            exporter.shutdown()

        def counted() -> bool:
            got = scrape(self.ports["prom"])
            return all(series(got, "mcp_hangar_tool_calls_total", mcp_server=server,
                              tool=tool, status=status) == n
                       for (server, tool, status), n in self.sent.items())
        wait_for(counted, 20, "the calls on the prometheus exporter")


def scrape(port: int) -> Samples:
    return samples(fetch(port))


def fetch(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return resp.read().decode()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    overlay = configs.shipped_overlay(service=configs.SELF_METRICS)
    gateway, ports = shipped_gateway(tmp, overlay, env={
        # the shipped config's own switches: prices, and compliance lines to a file
        "HANGAR_PRICING_FILE": str(REPO / "config" / "pricing.example.yaml"),
        "MCP_COMPLIANCE_FORMAT": "jsonlines",
        "MCP_COMPLIANCE_OUTPUT": str(tmp / "compliance.jsonl")})
    gateway.start(timeout=30)
    try:
        running = Live(gateway, ports)
        running.send_calls(CALLS, EACH)
        # spans (hangar 1.6 sends only those) and metrics: each signal's receiver and
        # exporter series
        spans = OTLPSpanExporter(endpoint=running.grpc, insecure=True, timeout=10)
        assert spans.export(sdk_data.make_spans()).name == "SUCCESS"
        spans.shutdown()
        metrics = OTLPMetricExporter(endpoint=running.grpc, insecure=True, timeout=10)
        assert metrics.export(sdk_data.make_metrics()).name == "SUCCESS"
        metrics.shutdown()
        # one request the receiver cannot decode: failed requests, component problems
        bad = urllib.request.Request(f"http://127.0.0.1:{ports['http']}/v1/logs",
                                     data=b"\xffnot protobuf", method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 400
        written = len(CALLS) * EACH
        wait_for(lambda: series(scrape(ports["metrics"]),
                                "otelcol_exporter_compliance_records_written_total",
                                exporter="compliance", format="jsonlines",
                                output="file") == written, 20, "the compliance lines")
        yield running
    finally:
        code = gateway.stop()
        assert code == 0, f"gateway exited with {code}:\n{gateway.stderr()}"


def exported_names(*texts: str) -> dict[str, str]:
    """Every sample name on the pages, with its family's type."""
    out = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[sample.name] = family.type
    return out


def test_every_metric_name_used_is_exported_by_the_live_gateway(live: Live) -> None:
    exported = exported_names(fetch(live.ports["prom"]), fetch(live.ports["metrics"]))
    recorded = promql.recorded()
    used: dict[str, list[str]] = {}
    for query in promql.all_queries():
        for name in promql.metric_names(query.expr):
            used.setdefault(name, []).append(query.where)
    # names with a colon are recording rules, and every one used is shipped
    assert {n for n in used if ":" in n} - recorded == set()
    missing = {name: where for name, where in used.items()
               if name not in exported and name not in recorded
               and name not in promql.PROMETHEUS_OWN}
    assert missing == {}
    # suffixes as Prometheus stores them: _bucket is a histogram's, _total a counter's
    for name in used:
        if name.endswith("_bucket"):
            assert exported[name] == "histogram", name
        if name.endswith("_total") and name in exported:
            assert exported[name] == "counter", name
    # the check looked at both pages, and at what the brief of the dashboard names
    gateway_names = set(used) - recorded - promql.PROMETHEUS_OWN
    for expected in ("mcp_hangar_cost_cents_total", "mcp_hangar_cost_attributions_total",
                     "mcp_hangar_caller_cost_cents_total", "mcp_hangar_tool_calls_total",
                     "mcp_hangar_tool_call_duration_seconds_bucket",
                     "otelcol_receiver_accepted_log_records_total",
                     "otelcol_receiver_refused_log_records_total",
                     "otelcol_exporter_queue_size", "otelcol_exporter_queue_capacity",
                     "otelcol_exporter_send_failed_log_records_total",
                     "otelcol_exporter_compliance_records_written_total",
                     "otelcol_exporter_compliance_records_dropped_total"):
        assert expected in gateway_names, expected


def test_the_failure_series_exist_at_zero_before_any_failure(live: Live) -> None:
    # what the alerts take increase()/rate() of exists at 0 from the start, so the first
    # failure is an increase Prometheus sees (hangar_otelcol/telemetry.py)
    got = scrape(live.ports["metrics"])
    for name, labels in (
            ("otelcol_receiver_refused_log_records_total",
             {"receiver": "otlp", "transport": "grpc"}),
            ("otelcol_receiver_refused_spans_total", {"receiver": "otlp", "transport": "grpc"}),
            ("otelcol_exporter_send_failed_log_records_total", {"exporter": "compliance"}),
            ("otelcol_exporter_enqueue_failed_log_records_total", {"exporter": "prometheus"}),
            ("otelcol_exporter_compliance_records_failed_total",
             {"exporter": "compliance", "format": "jsonlines", "output": "file"}),
            ("otelcol_exporter_compliance_records_dropped_total",
             {"exporter": "compliance", "format": "jsonlines", "output": "file"})):
        key = (name, frozenset(labels.items()))
        assert got.get(key) == 0.0, (name, sorted(k for k in got if k[0] == name))


# ---------------------------------------------------------------- a real Prometheus

#: Grafana's variables, as the dashboard opens (All) and for a short test
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", "$job": ".+",
                     "$instance": ".+", "$mcp_server": ".*"}


def grafana_expr(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, expr
    return expr


class Prometheus:
    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            doc = json.loads(resp.read())
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=expr)["result"]

    def ready(self) -> bool:
        try:
            return bool(self.query('count(up{job="hangar-otelcol"} == 1) == 2'))
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if len(result) == 1 else None


@pytest.fixture
def prometheus(live: Live, tmp_path: Path) -> Iterator[Prometheus]:
    # both ports of the replica in one job, as docs/monitoring.md says
    server = PrometheusServer(tmp_path / "prometheus", [
        f"127.0.0.1:{live.ports['prom']}", f"127.0.0.1:{live.ports['metrics']}"],
        rule_files=promql.RULE_FILES, job="hangar-otelcol").start(timeout=60)
    try:
        client = Prometheus(server.port)
        wait_for(lambda: server.process is not None and server.process.poll() is None
                 and client.ready(), 60, "prometheus scraping both gateway ports")
        yield client
    finally:
        server.stop()


@pytest.mark.prometheus
@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus not installed (scripts/install-test-peers.sh)")
def test_a_real_prometheus_evaluates_every_rule_and_dashboard_query(
        live: Live, prometheus: Prometheus) -> None:
    # calls while Prometheus scrapes, so that the rates are not 0
    time.sleep(2)
    live.send_calls(CALLS[:2], EACH)
    math_calls = "mcp_server:mcp_hangar_tool_calls:rate5m{mcp_server=\"math\"}"
    wait_for(lambda: (prometheus.value(math_calls) or 0) > 0, 30,
             "the calls recording rule to see the new calls")

    # every rule evaluates without an error
    groups = prometheus.get("/api/v1/rules")["groups"]
    loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
    shipped = {r.get("record") or r["alert"] for r in promql.rules()}
    assert set(loaded) == shipped
    assert {name: r["lastError"] for name, r in loaded.items() if r["health"] != "ok"} == {}
    # the recording rules have the values the traffic makes: math costs 25 per call
    # (config/pricing.example.yaml), alice's calls were all math, add is a top-10 tool
    ratio = prometheus.value(
        'mcp_server:mcp_hangar_cost_cents_per_attribution:ratio_rate5m{mcp_server="math"}')
    assert ratio == pytest.approx(25)
    for expr in ('mcp_server:mcp_hangar_cost_cents:increase1h{mcp_server="math"}',
                 'tool:mcp_hangar_cost_cents:topk10_rate5m{tool="add"}',
                 'caller_id:mcp_hangar_caller_cost_cents:increase1h{caller_id="alice"}'):
        value = prometheus.value(expr)
        assert value is not None and value > 0, expr
    assert prometheus.value("default:mcp_hangar_cost_budget_cents:1h") == 100000
    # a healthy gateway raises no alert
    assert prometheus.get("/api/v1/alerts")["alerts"] == []

    # every dashboard query returns data, every variable finds its label
    doc = promql.dashboard()
    empty = [q.where for q in promql.dashboard_queries(doc)
             if not prometheus.query(grafana_expr(q.expr))]
    assert empty == []
    for var in doc["templating"]["list"]:
        if var["type"] != "query":
            continue
        found = promql.variable_selector(var["query"])
        assert found is not None
        selector, label = found
        got = prometheus.get("/api/v1/series", **{"match[]": grafana_expr(selector)})
        assert got and all(label in s for s in got), var["name"]
