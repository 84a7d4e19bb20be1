"""The shipped Grafana dashboard (deploy/grafana/dashboards/hangar-otelcol.json) against
Grafana's dashboard model from grafana-foundation-sdk (tests/deploy_observability/
grafana_model.py says how), its structure, its filters, and the provisioning files."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.deploy_observability import grafana_model, promql
from tests.support.paths import REPO

DS = {"type": "prometheus", "uid": "${datasource}"}
#: the matchers every selector carries (the job / replica / server variables)
HEALTH_MATCHERS = ('job=~"$job"', 'instance=~"$instance(:[0-9]+)?"')
BUSINESS_MATCHERS = (*HEALTH_MATCHERS, 'mcp_server=~"$mcp_server"')
SELECTOR = re.compile(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\{([^}]*)\}")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return promql.dashboard()


def model_errors(doc: dict[str, Any]) -> list[str]:
    model = grafana_model.load(doc)
    return (grafana_model.unknown(model) + grafana_model.type_errors(model)
            + grafana_model.lost(doc, model))


def test_the_dashboard_is_valid_in_grafanas_model(doc: dict[str, Any]) -> None:
    model = grafana_model.load(doc)
    assert model_errors(doc) == []
    # and it is the dashboard we mean: every panel and query made it into the typed model
    parsed = grafana_model.panels(model)
    assert len(parsed) == len(promql.dashboard_panels(doc)) > 20
    assert sum(len(p.targets or []) for p in parsed if hasattr(p, "targets")) == len(
        promql.dashboard_queries(doc))


def _panel(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(p for p in promql.dashboard_panels(doc) if p["type"] == kind)


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "a string where Grafana has a number": (
        lambda d: _panel(d, "timeseries")["gridPos"].update(w="12"), ".grid_pos.w:"),
    "a panel type Grafana does not have": (
        lambda d: _panel(d, "timeseries").update(type="timeserie"), "unknown panel type"),
    "a key Grafana does not have": (
        lambda d: _panel(d, "stat").update(gridpos={"h": 1}), ".gridpos: not in Grafana"),
    "a value outside an enum": (
        lambda d: _panel(d, "timeseries")["options"]["legend"].update(displayMode="tabel"),
        ".legend.display_mode:"),
    "a query of no datasource type": (lambda d: _drop_datasource(_panel(d, "bargauge")),
                                      "query of no known datasource"),
}


def _drop_datasource(panel: dict[str, Any]) -> None:
    for item in (panel, *panel["targets"]):
        del item["datasource"]


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_the_model_check_finds_what_grafana_would_not_take(doc: dict[str, Any],
                                                           mutation: str) -> None:
    change, expected = MUTATIONS[mutation]
    broken = copy.deepcopy(doc)
    change(broken)
    errors = model_errors(broken)
    assert any(expected in e for e in errors), errors


def test_panels_have_unique_ids_a_datasource_targets_and_a_place(doc: dict[str, Any]) -> None:
    panels = promql.dashboard_panels(doc)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), ids
    cells: dict[tuple[int, int], int] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["y"] >= 0, panel["id"]
        assert pos["x"] + pos["w"] <= 24, panel["id"]
        for x in range(pos["x"], pos["x"] + pos["w"]):  # no two panels overlap
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, (panel["id"], cells.get((x, y)))
                cells[(x, y)] = panel["id"]
        if panel["type"] == "row":
            assert panel["panels"] == [] and not panel["collapsed"], panel["id"]
            continue
        assert panel["datasource"] == DS, panel["id"]
        targets = panel["targets"]
        assert targets, panel["id"]
        assert len({t["refId"] for t in targets}) == len(targets), panel["id"]
        for target in targets:
            assert target["datasource"] == DS and target["expr"].strip(), panel["id"]
        assert panel.get("title") and panel.get("description"), panel["id"]


def test_the_variables(doc: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "instance", "mcp_server"]
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == (
        "datasource", "prometheus")
    for name in ("job", "instance", "mcp_server"):
        var = variables[name]
        assert var["datasource"] == DS and var["multi"] and var["includeAll"], name
    # the replica variable is the host of the instance label, so that a replica's :8888
    # and :8889 targets are both selected (instance=~"$instance(:[0-9]+)?")
    host = re.compile(variables["instance"]["regex"].strip("/"))
    for instance, expected in (("10.0.0.7:8888", "10.0.0.7"), ("[::1]:8889", "[::1]"),
                               ("gw-0", "gw-0")):
        found = host.match(instance)
        assert found and found.group(1) == expected


def test_every_selector_is_filtered_by_the_variables(doc: dict[str, Any]) -> None:
    for query in promql.dashboard_queries(doc):
        selectors = SELECTOR.findall(query.expr)
        names = promql.metric_names(query.expr)
        # every metric is written with a selector (so with the filters)
        assert {name for name, _ in selectors} == names, query
        for name, matchers in selectors:
            wanted = BUSINESS_MATCHERS if name.startswith("mcp_hangar_") else HEALTH_MATCHERS
            for matcher in wanted:
                assert matcher in matchers, (query.where, name)


def test_series_are_summed_over_replicas(doc: dict[str, Any]) -> None:
    # several replicas are scraped: no panel shows one line per replica (the queue fill
    # shows the fullest one, max by exporter)
    for query in promql.dashboard_queries(doc):
        for grouping in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", query.expr):
            assert "instance" not in grouping and "job" not in grouping, query
        assert re.match(r"\s*(sum|max|count|topk|histogram_quantile)\b", query.expr), query


def test_the_cost_panels_answer_the_seed_questions(doc: dict[str, Any]) -> None:
    exprs = [" ".join(q.expr.split()) for q in promql.dashboard_queries(doc)]
    unfiltered = [re.sub(r"\{[^}]*\}", "", e) for e in exprs]
    for seed in ("sum(increase(mcp_hangar_cost_cents_total[1h])) by (mcp_server)",
                 "sum(rate(mcp_hangar_cost_cents_total[$__rate_interval])) by (mcp_server) "
                 "/ sum(rate(mcp_hangar_cost_attributions_total[$__rate_interval])) "
                 "by (mcp_server)"):
        assert any(seed in e for e in unfiltered), seed
    assert any(e.startswith("topk(10, sum by (caller_id) (increase("
                            "mcp_hangar_caller_cost_cents_total") for e in unfiltered)
    assert any("histogram_quantile(0.95," in e and "_bucket" in e for e in unfiltered)


def test_provisioning_files() -> None:
    base = REPO / "deploy" / "grafana" / "provisioning"
    sources = yaml.safe_load((base / "datasources" / "prometheus.yaml").read_text())
    assert sources["apiVersion"] == 1
    [source] = sources["datasources"]
    assert (source["type"], source["access"]) == ("prometheus", "proxy") and source["url"]
    boards = yaml.safe_load((base / "dashboards" / "hangar-otelcol.yaml").read_text())
    assert boards["apiVersion"] == 1
    [provider] = boards["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    assert promql.dashboard()["uid"] == "hangar-otelcol"
