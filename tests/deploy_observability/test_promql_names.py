"""The PromQL name reader the live test relies on (promql.metric_names): it must find every
metric name and nothing else (labels, functions, keywords, strings, durations, variables)."""

from __future__ import annotations

import pytest

from tests.deploy_observability import promql


@pytest.mark.parametrize(("expr", "names"), [
    # the seed's three queries (README, "Pricing")
    ("sum(increase(mcp_hangar_cost_cents_total[1h])) by (mcp_server)",
     {"mcp_hangar_cost_cents_total"}),
    ("topk(10, sum(rate(mcp_hangar_cost_cents_total[5m])) by (tool))",
     {"mcp_hangar_cost_cents_total"}),
    ("sum(rate(mcp_hangar_cost_cents_total[5m])) by (mcp_server)\n"
     "/ sum(rate(mcp_hangar_cost_attributions_total[5m])) by (mcp_server)",
     {"mcp_hangar_cost_cents_total", "mcp_hangar_cost_attributions_total"}),
    # label matchers, with strings that look like selectors and Grafana variables
    ('sum by (mcp_server, tool) (rate(a_total{job=~"$job", tool="b{c}", x!~"d|e"}'
     "[$__rate_interval])) * 3600 / 10000", {"a_total"}),
    ("histogram_quantile(0.95, sum by (mcp_server, tool, le) (rate(h_bucket"
     '{instance=~"${instance:regex}(:[0-9]+)?"}[5m])))', {"h_bucket"}),
    # vector matching and set operators, recording-rule names, offsets
    ("(max_over_time(mcp_server:x:rate5m[1d] offset 30m) > 0)\nunless on (mcp_server)\n"
     "(max_over_time(mcp_server:x:rate5m[30m]) > 0)", {"mcp_server:x:rate5m"}),
    ("a > on (mcp_server) group_left () b or (c unless ignoring (tool) d) > bool e offset 1h30m",
     {"a", "b", "c", "d", "e"}),
    ("sum without (instance, job) (f) / on () group_right (g_label) g", {"f", "g"}),
    # functions on constants: no name at all
    ('label_replace(vector(500000), "mcp_server", "openai-tools", "", "")', set()),
    ("count(up{job=~'hangar.*'} == 0) or vector(0)", {"up"}),
    ("sum(rate(x_total[5m] @ end())) + 1e3 * y - 0x1f", {"x_total", "y"}),
    ("max by (exporter) (otelcol_exporter_queue_size / (otelcol_exporter_queue_capacity > 0))",
     {"otelcol_exporter_queue_size", "otelcol_exporter_queue_capacity"}),
])
def test_metric_names(expr: str, names: set[str]) -> None:
    assert promql.metric_names(expr) == names


def test_variable_selector() -> None:
    assert promql.variable_selector(
        'label_values(mcp_hangar_tool_calls_total{job=~"$job"}, mcp_server)') == (
        'mcp_hangar_tool_calls_total{job=~"$job"}', "mcp_server")
    assert promql.variable_selector("query_result(up)") is None


def test_every_shipped_query_has_a_name() -> None:
    # a query the reader finds no name in would pass the live check without checking
    # anything; the only ones allowed are the budgets' constants
    empty = [q.where for q in promql.all_queries() if not promql.metric_names(q.expr)]
    assert empty == ["rule default:mcp_hangar_cost_budget_cents:1h",
                     "rule mcp_server:mcp_hangar_cost_budget_cents:1h"]
