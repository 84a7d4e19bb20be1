"""OTLP metrics to remote-write series: the names Prometheus users query, job/instance from
the resource, cumulative histogram buckets, delta points left out."""

from __future__ import annotations

from hangar_otelcol.connectors.mcp_metrics.otlp import build
from hangar_otelcol.exporters.prometheus.metrics import ToolMetrics
from hangar_otelcol.exporters.prometheusremotewrite.translate import metric_name, translate
from tests.connectors.mcp_metrics.test_otlp_points import fact


def series_of(write) -> dict[frozenset, list[tuple[float, int]]]:
    """{label set: samples}; and every series' labels are sorted, __name__ first."""
    out = {}
    for ts in write.timeseries:
        names = [label.name for label in ts.labels]
        assert names[0] == "__name__" and names[1:] == sorted(names[1:])
        out[frozenset((label.name, label.value) for label in ts.labels)] = \
            [(s.value, s.timestamp) for s in ts.samples]
    return out


def test_names_follow_the_opentelemetry_to_prometheus_mapping() -> None:
    assert metric_name("mcp_hangar_cost_cents", "{hundredth_of_cent}", monotonic=True) == \
        "mcp_hangar_cost_cents_total"
    assert metric_name("mcp_hangar_tool_call_duration_seconds", "s", monotonic=False) == \
        "mcp_hangar_tool_call_duration_seconds"
    assert metric_name("http.server.duration", "s", monotonic=False) == \
        "http_server_duration_seconds"
    assert metric_name("requests", "1", monotonic=True, namespace="gw") == "gw_requests_total"
    assert metric_name("x_total", "", monotonic=True, suffixes=False) == "x_total"


def test_counted_series_arrive_under_the_scraped_names() -> None:
    metrics = ToolMetrics()
    metrics.record(fact())
    metrics.record(fact(ms=2000.0))
    request, _, _ = build(metrics.frozen(), {"service.name": "hangar-otelcol",
                                             "service.instance.id": "gw-1-w0"},
                          1_000_000_000, 5_000_000_000)
    write, samples, skipped = translate(request, external_labels={"cluster": "eu-1"})
    got = series_of(write)
    base = (("cluster", "eu-1"), ("instance", "gw-1-w0"), ("job", "hangar-otelcol"))
    calls = frozenset({("__name__", "mcp_hangar_tool_calls_total"), *base,
                       ("mcp_server", "math"), ("status", "success"), ("tool", "add")})
    assert got[calls] == [(2.0, 5000)]
    cents = frozenset({("__name__", "mcp_hangar_cost_cents_total"), *base,
                       ("cost_model", "fixed"), ("mcp_server", "math"), ("tool", "add")})
    assert got[cents] == [(200.0, 5000)]
    hist = "mcp_hangar_tool_call_duration_seconds"
    labels = (*base, ("mcp_server", "math"), ("tool", "add"))
    bucket = {dict(k)["le"]: v[0][0] for k, v in got.items()
              if dict(k)["__name__"] == f"{hist}_bucket"}
    assert bucket["0.01"] == 0 and bucket["0.025"] == 1 and bucket["2.5"] == 2
    assert bucket["+Inf"] == 2 and list(bucket)[-1] == "+Inf"
    assert got[frozenset({("__name__", f"{hist}_count"), *labels})] == [(2.0, 5000)]
    assert abs(got[frozenset({("__name__", f"{hist}_sum"), *labels})][0][0] - 2.012) < 1e-9
    assert skipped == 0 and samples == sum(len(v) for v in got.values())


def test_delta_points_are_left_out_and_counted() -> None:
    metrics = ToolMetrics()
    metrics.record(fact())
    request, _, points = build(metrics.frozen(), {}, 0, 1_000_000, delta=True)
    write, samples, skipped = translate(request)
    assert samples == 0 and not write.timeseries and skipped == points > 0
