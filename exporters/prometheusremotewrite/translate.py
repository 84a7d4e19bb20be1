"""OTLP metrics -> Prometheus remote-write 1.0 time series (the Collector's mapping).

- names: characters outside ``[a-zA-Z0-9_:]`` become ``_``; a monotonic sum gets
  ``_total``, a unit its suffix (``s`` -> ``_seconds``; units in braces are annotations and
  add nothing), unless the name already ends with it; ``namespace`` is a prefix;
- labels: the point's attributes (sanitized), ``job`` from ``service.namespace/service.name``
  and ``instance`` from ``service.instance.id``, the external labels, sorted by name;
- a histogram becomes ``_bucket{le}`` (cumulative counts, ``+Inf`` last), ``_sum``, ``_count``;
- delta sums and histograms cannot be written (remote write holds cumulative counters):
  they are left out and counted, as the contrib exporter does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from hangar_otelcol.proto.prometheus.remote_pb2 import WriteRequest

_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_UNITS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
          "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "m": "meters",
          "%": "percent"}
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA

Labels = tuple[tuple[str, str], ...]


def metric_name(name: str, unit: str, *, monotonic: bool, namespace: str = "",
                suffixes: bool = True) -> str:
    out = _NAME_CHARS.sub("_", name)
    if suffixes:
        word = _UNITS.get(unit, "") if unit and not unit.startswith("{") else ""
        if word and not out.endswith(f"_{word}"):
            out = f"{out}_{word}"
        if monotonic and not out.endswith("_total"):
            out = f"{out}_total"
    if namespace:
        out = f"{namespace}_{out}"
    return out if not out[:1].isdigit() else f"_{out}"


def label_name(name: str) -> str:
    out = _LABEL_CHARS.sub("_", name)
    return out if not out[:1].isdigit() else f"key_{out}"


def _value(any_value: object) -> str:
    kind = any_value.WhichOneof("value")  # type: ignore[attr-defined]
    return "" if kind is None else str(getattr(any_value, kind))


class Series:
    """Time series being built: one per label set, samples in time order."""

    def __init__(self) -> None:
        self.samples: dict[Labels, list[tuple[float, int]]] = {}

    def add(self, name: str, labels: Mapping[str, str], value: float, ts_ms: int) -> None:
        key = tuple(sorted({**labels, "__name__": name}.items()))
        self.samples.setdefault(key, []).append((value, ts_ms))

    def request(self) -> WriteRequest:
        out = WriteRequest()
        for key, samples in self.samples.items():
            series = out.timeseries.add()
            # __name__ sorts first among lower-case names only by luck: put it first
            for name, text in sorted(key, key=lambda kv: (kv[0] != "__name__", kv[0])):
                series.labels.add(name=name, value=text)
            for number, ts in sorted(samples, key=lambda s: s[1]):
                series.samples.add(value=number, timestamp=ts)
        return out


def translate(request: ExportMetricsServiceRequest, *, namespace: str = "",
              external_labels: Mapping[str, str] | None = None, suffixes: bool = True
              ) -> tuple[WriteRequest, int, int]:
    """(the write request, samples in it, delta points left out)."""
    series = Series()
    skipped = 0
    external = dict(external_labels or {})
    for rm in request.resource_metrics:
        resource = {kv.key: _value(kv.value) for kv in rm.resource.attributes}
        base = dict(external)
        service = resource.get("service.name", "")
        if service:
            space = resource.get("service.namespace", "")
            base["job"] = f"{space}/{service}" if space else service
        if resource.get("service.instance.id"):
            base["instance"] = resource["service.instance.id"]
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                skipped += _metric(series, metric, base, namespace, suffixes)
    out = series.request()
    return out, sum(len(ts.samples) for ts in out.timeseries), skipped


def _labels(base: Mapping[str, str], attributes: object) -> dict[str, str]:
    out = dict(base)
    for kv in attributes:  # type: ignore[attr-defined]
        out[label_name(kv.key)] = _value(kv.value)
    return out


def _metric(series: Series, metric: metrics_pb2.Metric, base: Mapping[str, str],
            namespace: str, suffixes: bool) -> int:
    kind = metric.WhichOneof("data")
    if kind in ("sum", "gauge"):
        data = metric.sum if kind == "sum" else metric.gauge
        monotonic = kind == "sum" and metric.sum.is_monotonic
        if kind == "sum" and metric.sum.aggregation_temporality == DELTA:
            return len(data.data_points)
        name = metric_name(metric.name, metric.unit, monotonic=monotonic,
                           namespace=namespace, suffixes=suffixes)
        for point in data.data_points:
            value = point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
            series.add(name, _labels(base, point.attributes), float(value),
                       point.time_unix_nano // 1_000_000)
        return 0
    if kind == "histogram":
        if metric.histogram.aggregation_temporality == DELTA:
            return len(metric.histogram.data_points)
        name = metric_name(metric.name, metric.unit, monotonic=False, namespace=namespace,
                           suffixes=suffixes)
        for hist in metric.histogram.data_points:
            labels = _labels(base, hist.attributes)
            ts = hist.time_unix_nano // 1_000_000
            cumulative = 0
            bounds = [*(repr(float(b)) for b in hist.explicit_bounds), "+Inf"]
            for bound, count in zip(bounds, hist.bucket_counts, strict=False):
                cumulative += count
                series.add(f"{name}_bucket", {**labels, "le": bound}, float(cumulative), ts)
            series.add(f"{name}_sum", labels, hist.sum, ts)
            series.add(f"{name}_count", labels, float(hist.count), ts)
        return 0
    return 0  # exponential histograms and summaries: not produced by this gateway
