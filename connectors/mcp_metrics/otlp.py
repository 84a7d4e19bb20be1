"""The counted series (``ToolMetrics.frozen()``) as one ExportMetricsServiceRequest.

Names and units follow the OpenTelemetry-to-Prometheus mapping so that the same metric
arrives in Prometheus-compatible backends under the name the prometheus exporter serves:
a monotonic sum ``mcp_hangar_cost_cents`` becomes ``mcp_hangar_cost_cents_total``; the
histogram ``mcp_hangar_tool_call_duration_seconds`` (unit ``s``) keeps its name; units in
braces are annotations and add no suffix. Counts are integers (``as_int``); the histogram
has hangar's explicit bounds.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from hangar_otelcol.exporters.prometheus.metrics import BUCKETS, OTHER, Frozen, Key

SCOPE = "hangar_otelcol.connectors.mcp_metrics"
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
#: the unit of each counter family (annotations: no Prometheus suffix)
UNITS = {"mcp_hangar_cost_cents": "{hundredth_of_cent}",
         "mcp_hangar_caller_cost_cents": "{hundredth_of_cent}"}

#: what was handed on last (delta): family name -> series key -> value or histogram row
Baseline = dict[str, dict[Key, float | list[float]]]


def _attributes(into: object, names: tuple[str, ...], key: Key) -> None:
    attrs = into.attributes  # type: ignore[attr-defined]
    for name, value in zip(names, key, strict=True):
        item: KeyValue = attrs.add()
        item.key = name
        item.value.string_value = value


def build(frozen: Frozen, resource: Mapping[str, str], start_ns: int, now_ns: int, *,
          delta: bool = False, baseline: Baseline | None = None, since_ns: int = 0
          ) -> tuple[ExportMetricsServiceRequest, Baseline, int]:
    """The request, the new baseline and how many points it holds. With ``delta``, each
    point is the change since ``baseline`` (taken at ``since_ns``), and series that did
    not change are left out."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    for name, value in resource.items():
        item = rm.resource.attributes.add()
        item.key = name
        item.value.string_value = value
    sm = rm.scope_metrics.add()
    sm.scope.name = SCOPE
    previous = baseline or {}
    fresh: Baseline = {}
    points = 0
    point_start = since_ns if delta else start_ns
    for name, help_text, labels, values in frozen.counters:
        fresh[name] = dict(values)
        changes = _changes(values, previous.get(name, {})) if delta else values
        metric = None
        for key, amount in changes.items():
            if delta and amount <= 0:
                continue  # nothing new: a delta series is left out
            if metric is None:
                metric = sm.metrics.add(name=name, description=help_text,
                                        unit=UNITS.get(name, "{call}"))
                metric.sum.aggregation_temporality = DELTA if delta else CUMULATIVE
                metric.sum.is_monotonic = True
            point = metric.sum.data_points.add(start_time_unix_nano=point_start,
                                               time_unix_nano=now_ns, as_int=int(amount))
            _attributes(point, labels, key)
            points += 1
    name, help_text, labels, rows = frozen.histogram
    fresh[name] = {key: row[:] for key, row in rows.items()}
    row_changes = _row_changes(rows, previous.get(name, {})) if delta else rows
    metric = None
    for key, row in row_changes.items():
        counts = [int(n) for n in row[:-1]]
        if delta and not any(counts):
            continue
        if metric is None:
            metric = sm.metrics.add(name=name, description=help_text, unit="s")
            metric.histogram.aggregation_temporality = DELTA if delta else CUMULATIVE
        hist = metric.histogram.data_points.add(
            start_time_unix_nano=point_start, time_unix_nano=now_ns, count=sum(counts),
            sum=row[-1], bucket_counts=counts, explicit_bounds=BUCKETS)
        _attributes(hist, labels, key)
        points += 1
    return request, fresh, points


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _changes(values: Mapping[Key, float], before: Mapping[Key, object]) -> dict[Key, float]:
    """Each series' change since ``before``. A series in ``before`` that is gone now was
    evicted (``forget`` takes expired ones out of the baseline): its whole value was
    folded into ``__other__``, of which the part handed on already is not new."""
    folded = sum(_number(v) for k, v in before.items() if k not in values)
    out = {}
    for key, value in values.items():
        out[key] = value - _number(before.get(key, 0.0))
        if _is_other(key):
            out[key] -= folded
    return out


def _row_changes(rows: Mapping[Key, list[float]], before: Mapping[Key, object]
                 ) -> dict[Key, list[float]]:
    """``_changes`` for histogram rows (bucket counts and sum, elementwise)."""
    folded: list[float] | None = None
    for key, row in before.items():
        if key not in rows and isinstance(row, list):
            folded = row[:] if folded is None else [a + b for a, b in zip(folded, row,
                                                                          strict=True)]
    out = {}
    for key, row in rows.items():
        last = before.get(key)
        change = [n - m for n, m in zip(row, last, strict=True)] if isinstance(last, list) \
            else row[:]
        if folded is not None and _is_other(key):
            change = [n - m for n, m in zip(change, folded, strict=True)]
        out[key] = change
    return out


def series_keys(frozen: Frozen) -> dict[str, set[Key]]:
    """The label sets of every family."""
    out = {name: set(values) for name, _, _, values in frozen.counters}
    out[frozen.histogram[0]] = set(frozen.histogram[3])
    return out


def forget(baseline: Baseline, before: dict[str, set[Key]], after: dict[str, set[Key]]
           ) -> None:
    """Take the series an expiry removed (in ``before`` it, not ``after``) out of
    ``baseline``, so that ``_changes`` does not read them as folded into ``__other__``
    (an eviction folds, an expiry drops; only ``record`` evicts)."""
    for name, keys in before.items():
        series = baseline.get(name)
        if series:
            for key in keys - after.get(name, set()):
                series.pop(key, None)


def _is_other(key: Key) -> bool:
    """The family's ``__other__`` series (every label ``__other__``, ``Family.other``)."""
    return bool(key) and all(value == OTHER for value in key)
