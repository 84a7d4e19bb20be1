"""The counted series as OTLP points (connectors/mcp_metrics/otlp.py): names, units and
values a backend reads; delta points that add up to the calls, also when series are
evicted into ``__other__`` or expire."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.metrics.v1 import metrics_pb2

from hangar_otelcol.connectors.mcp_metrics.otlp import Baseline, build, forget, series_keys
from hangar_otelcol.exporters.prometheus.metrics import BUCKETS, ToolMetrics


def fact(server: str = "math", tool: str = "add", status: str = "success",
         ms: float | None = 12.0, cents: int | None = 100, caller: str = "alice") -> tuple:
    return (server, tool, status, ms, None if status == "success" else "tool_error", cents,
            "fixed" if cents else "", "user", caller)


def points(request) -> dict[str, dict[tuple, object]]:
    """{metric name: {attributes: value or (count, sum, bucket counts)}}."""
    out: dict[str, dict[tuple, object]] = {}
    for metric in request.resource_metrics[0].scope_metrics[0].metrics:
        into = out.setdefault(metric.name, {})
        if metric.WhichOneof("data") == "sum":
            for p in metric.sum.data_points:
                into[tuple((a.key, a.value.string_value) for a in p.attributes)] = p.as_int
        else:
            for p in metric.histogram.data_points:
                into[tuple((a.key, a.value.string_value) for a in p.attributes)] = (
                    p.count, p.sum, list(p.bucket_counts))
    return out


def test_cumulative_points_carry_the_prometheus_names_and_values() -> None:
    metrics = ToolMetrics(per_caller=True)
    for _ in range(3):
        metrics.record(fact())
    metrics.record(fact(status="error", cents=None, ms=2000.0))
    request, _, n = build(metrics.frozen(), {"service.name": "hangar-otelcol"}, 100, 200)
    got = points(request)
    assert got["mcp_hangar_tool_calls"] == {
        (("mcp_server", "math"), ("tool", "add"), ("status", "success")): 3,
        (("mcp_server", "math"), ("tool", "add"), ("status", "error")): 1}
    assert got["mcp_hangar_cost_cents"] == {
        (("mcp_server", "math"), ("tool", "add"), ("cost_model", "fixed")): 300}
    assert got["mcp_hangar_cost_attributions"] == {
        (("mcp_server", "math"), ("tool", "add")): 3}
    count, total, buckets = got["mcp_hangar_tool_call_duration_seconds"][
        (("mcp_server", "math"), ("tool", "add"))]
    assert count == 4 and abs(total - (3 * 0.012 + 2.0)) < 1e-9
    assert len(buckets) == len(BUCKETS) + 1 and sum(buckets) == 4
    assert buckets[BUCKETS.index(0.025)] == 3 and buckets[BUCKETS.index(2.5)] == 1
    assert got["mcp_hangar_caller_cost_cents"][(
        ("mcp_server", "math"), ("tool", "add"), ("caller_type", "user"),
        ("caller_id", "alice"), ("cost_model", "fixed"))] == 300
    assert n == sum(len(v) for v in got.values())
    by_name = {m.name: m for m in request.resource_metrics[0].scope_metrics[0].metrics}
    calls, hist = by_name["mcp_hangar_tool_calls"], by_name["mcp_hangar_tool_call_duration_seconds"]
    assert calls.sum.is_monotonic and calls.unit == "{call}"
    assert calls.sum.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    assert hist.unit == "s" and list(hist.histogram.data_points[0].explicit_bounds) == \
        list(BUCKETS)
    assert all(p.start_time_unix_nano == 100 and p.time_unix_nano == 200
               for p in calls.sum.data_points)


def test_delta_points_are_the_changes_and_leave_quiet_series_out() -> None:
    metrics = ToolMetrics()
    metrics.record(fact())
    metrics.record(fact(tool="mul"))
    first, baseline, _ = build(metrics.frozen(), {}, 0, 10, delta=True, since_ns=0)
    metrics.record(fact())
    second, _, _ = build(metrics.frozen(), {}, 0, 20, delta=True, baseline=baseline,
                         since_ns=10)
    calls = points(second)["mcp_hangar_tool_calls"]
    assert calls == {(("mcp_server", "math"), ("tool", "add"), ("status", "success")): 1}
    metric = second.resource_metrics[0].scope_metrics[0].metrics[0]
    assert metric.sum.aggregation_temporality == metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    assert metric.sum.data_points[0].start_time_unix_nano == 10
    assert sum(points(first)["mcp_hangar_tool_calls"].values()) == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=1, max_size=120),
       st.integers(0, 2**32))
def test_delta_points_add_up_to_every_call_with_evictions_and_expiry(
        steps: list[tuple[int, bool]], seed: int) -> None:
    """Many tools through a family capped at 5 series (evicted ones fold into
    ``__other__``), pushes at random moments, sometimes an expiry: the delta points of
    every push add up to the calls counted, minus what expired unpushed."""
    rng = random.Random(seed)
    metrics = ToolMetrics(max_series=5)
    baseline: Baseline = {}
    pushed = counted = expired_unpushed = 0
    clock = 0.0
    for tool, push in steps:
        clock += 1.0
        metrics.clock.now = clock
        metrics.record(fact(tool=f"t{tool}", cents=None))
        counted += 1
        if rng.random() < 0.1:  # an expiry of what was not updated for a while
            before = sum(metrics.calls.values.values())
            unpushed = {k: v - float(baseline.get("mcp_hangar_tool_calls", {}).get(k, 0.0))
                        for k, v in metrics.calls.values.items()}
            keys = series_keys(metrics.frozen())
            metrics.expire(clock - 3)
            if before != sum(metrics.calls.values.values()):
                gone = set(unpushed) - set(metrics.calls.values)
                expired_unpushed += sum(unpushed[k] for k in gone)
            forget(baseline, keys, series_keys(metrics.frozen()))
        if push:
            request, baseline, _ = build(metrics.frozen(), {}, 0, int(clock), delta=True,
                                         baseline=baseline, since_ns=0)
            pushed += sum(points(request).get("mcp_hangar_tool_calls", {}).values())
    request, baseline, _ = build(metrics.frozen(), {}, 0, int(clock) + 1, delta=True,
                                 baseline=baseline, since_ns=0)
    pushed += sum(points(request).get("mcp_hangar_tool_calls", {}).values())
    assert pushed == counted - expired_unpushed
