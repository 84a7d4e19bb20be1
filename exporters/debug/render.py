"""Text renderings of a Batch in the Collector debug exporter's three verbosities.

No secret is rendered: the value of an attribute whose key names one (``authorization``,
``http.request.header.cookie``, ``api_key`` ...; ``hangar_otelcol.redact.is_secret_key``)
is shown as ``<redacted: N chars, ends ...abcd>``, and URL passwords and Bearer/Basic
credentials inside any string value too."""

from __future__ import annotations

import datetime
import json
from typing import Any

from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.redact import Redactor, is_secret_key, redact_value

_SPAN_KINDS = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
_STATUS = ["Unset", "Ok", "Error"]
_NAMES = {Signal.TRACES: "TracesExporter", Signal.LOGS: "LogsExporter",
          Signal.METRICS: "MetricsExporter"}


# --------------------------------------------------------------------------- basic

def basic(batch: Batch, component: str) -> str:
    """One summary line, with the Collector's field names."""
    fields: dict[str, Any] = {"kind": "exporter", "data_type": batch.signal.value,
                              "name": component}
    resources = sum(len(_resources(p.message, batch.signal)) for p in batch.parts)
    if batch.signal is Signal.TRACES:
        fields.update({"resource spans": resources, "spans": batch.item_count})
    elif batch.signal is Signal.LOGS:
        fields.update({"resource logs": resources, "log records": batch.item_count})
    else:
        messages: list[Any] = [p.message for p in batch.parts]  # metrics requests
        metrics = sum(len(sm.metrics) for m in messages for rm in m.resource_metrics
                      for sm in rm.scope_metrics)
        fields.update({"resource metrics": resources, "metrics": metrics,
                       "data points": batch.item_count})
    return f"{_now()}\tinfo\t{_NAMES[batch.signal]}\t{json.dumps(fields)}\n"


def _resources(message: Any, signal: Signal) -> Any:
    return getattr(message, {Signal.TRACES: "resource_spans", Signal.LOGS: "resource_logs",
                             Signal.METRICS: "resource_metrics"}[signal])


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"
                                                                  ).replace("+00:00", "Z")


# --------------------------------------------------------------------------- values

def value_text(v: Any) -> str:
    """An AnyValue as the Collector prints it: Str(x), Int(1), Map({...}) ..."""
    which = v.WhichOneof("value")
    if which == "string_value":
        return f"Str({_text(v.string_value)})"
    if which == "int_value":
        return f"Int({v.int_value})"
    if which == "double_value":
        return f"Double({v.double_value})"
    if which == "bool_value":
        return f"Bool({'true' if v.bool_value else 'false'})"
    if which == "bytes_value":
        return f"Bytes({v.bytes_value.hex()})"
    if which == "array_value":
        return "Slice([" + ", ".join(_plain(x) for x in v.array_value.values) + "])"
    if which == "kvlist_value":
        return "Map({" + ", ".join(f"{kv.key}: {_plain(_val(kv))}"
                                   for kv in v.kvlist_value.values) + "})"
    return "Empty()"


def _plain(v: Any) -> str:
    which = v.WhichOneof("value")
    if which in ("array_value", "kvlist_value", "bytes_value", None):
        return value_text(v)
    if which == "string_value":
        return _text(v.string_value)
    return str(getattr(v, which))


# --------------------------------------------------------------------------- secrets

_PATTERNS = Redactor()


def _text(s: str) -> str:
    """A string value as shown: URL passwords and Bearer/Basic credentials redacted."""
    return _PATTERNS.text(s)


def _val(kv: Any) -> Any:
    """The value of an attribute as shown: redacted when its key names a secret
    (``authorization``, ``http.request.header.x-api-key``, ``db.password``; not
    ``mcp.cost.input_tokens`` or other token counts)."""
    return _secret(kv.value) if is_secret_key(kv.key) else kv.value


def _secret(v: Any) -> Any:
    """A copy of an AnyValue with every scalar in it redacted (booleans kept)."""
    out = type(v)()
    which = v.WhichOneof("value")
    if which == "array_value":
        for item in v.array_value.values:
            out.array_value.values.add().CopyFrom(_secret(item))
    elif which == "kvlist_value":
        for kv in v.kvlist_value.values:
            entry = out.kvlist_value.values.add()
            entry.key = kv.key
            entry.value.CopyFrom(_secret(kv.value))
    elif which in (None, "bool_value"):
        out.CopyFrom(v)
    elif which == "bytes_value":
        out.string_value = redact_value(v.bytes_value.hex())
    else:
        out.string_value = redact_value(str(getattr(v, which)))
    return out


def _attrs_inline(attrs: Any) -> str:
    return " ".join(f"{kv.key}={_plain(_val(kv))}" for kv in attrs)


def _attrs_block(title: str, attrs: Any, out: list[str]) -> None:
    if not len(attrs):
        return
    out.append(f"{title}:")
    for kv in attrs:
        out.append(f"     -> {kv.key}: {value_text(_val(kv))}")


def _ts(ns: int) -> str:
    if not ns:
        return "1970-01-01 00:00:00 +0000 UTC"
    dt = datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC)
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{ns % 1_000_000_000:09d} +0000 UTC"


# --------------------------------------------------------------------------- normal

def normal(batch: Batch) -> str:
    """One line per resource, scope and record."""
    out: list[str] = []
    sig = batch.signal
    for part in batch.parts:
        for i, res in enumerate(_resources(part.message, sig)):
            out.append(f"Resource{_TYPE[sig]} #{i} {_attrs_inline(res.resource.attributes)}"
                       .rstrip())
            for j, scope in enumerate(getattr(res, _SCOPES[sig])):
                out.append(f"Scope{_TYPE[sig]} #{j} {scope.scope.name} {scope.scope.version}"
                           .rstrip())
                if sig is Signal.TRACES:
                    for s in scope.spans:
                        out.append(f"{s.name} {s.trace_id.hex()} {s.span_id.hex()} "
                                   f"{_attrs_inline(s.attributes)}".rstrip())
                elif sig is Signal.LOGS:
                    for r in scope.log_records:
                        out.append(f"{_plain(r.body)} {_attrs_inline(r.attributes)}".rstrip())
                else:
                    for m in scope.metrics:
                        out.extend(_metric_lines(m))
    return "\n".join(out) + "\n"


_TYPE = {Signal.TRACES: "Spans", Signal.LOGS: "Logs", Signal.METRICS: "Metrics"}
_SCOPES = {Signal.TRACES: "scope_spans", Signal.LOGS: "scope_logs",
           Signal.METRICS: "scope_metrics"}


def _metric_lines(m: Any) -> list[str]:
    kind = m.WhichOneof("data")
    if kind is None:
        return [f"{m.name} (no data)"]
    lines = []
    for dp in getattr(m, kind).data_points:
        attrs = ",".join(f"{kv.key}={_plain(_val(kv))}" for kv in dp.attributes)
        lines.append(f"{m.name}{{{attrs}}} {_point_value(kind, dp)}")
    return lines


def _point_value(kind: str, dp: Any) -> str:
    if kind in ("gauge", "sum"):
        return str(dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double)
    if kind == "summary":
        return f"count={dp.count} sum={dp.sum}"
    return f"count={dp.count} sum={dp.sum if dp.HasField('sum') else ''}".rstrip()


# --------------------------------------------------------------------------- detailed

def detailed(batch: Batch) -> str:
    """Every field, in the Collector's layout."""
    out: list[str] = []
    sig = batch.signal
    for part in batch.parts:
        for i, res in enumerate(_resources(part.message, sig)):
            out.append(f"Resource{_TYPE[sig]} #{i}")
            out.append(f"Resource SchemaURL: {res.schema_url}")
            _attrs_block("Resource attributes", res.resource.attributes, out)
            for j, scope in enumerate(getattr(res, _SCOPES[sig])):
                out.append(f"Scope{_TYPE[sig]} #{j}")
                out.append(f"Scope{_TYPE[sig]} SchemaURL: {scope.schema_url}")
                out.append(f"InstrumentationScope {scope.scope.name} {scope.scope.version}"
                           .rstrip())
                _attrs_block("InstrumentationScope attributes", scope.scope.attributes, out)
                if sig is Signal.TRACES:
                    for k, s in enumerate(scope.spans):
                        _span(k, s, out)
                elif sig is Signal.LOGS:
                    for k, r in enumerate(scope.log_records):
                        _log(k, r, out)
                else:
                    for k, m in enumerate(scope.metrics):
                        _metric(k, m, out)
    return "\n".join(out) + "\n"


def _span(k: int, s: Any, out: list[str]) -> None:
    out += [
        f"Span #{k}",
        f"    Trace ID       : {s.trace_id.hex()}",
        f"    Parent ID      : {s.parent_span_id.hex()}",
        f"    ID             : {s.span_id.hex()}",
        f"    Name           : {s.name}",
        f"    Kind           : {_SPAN_KINDS[s.kind] if s.kind < len(_SPAN_KINDS) else s.kind}",
        f"    Start time     : {_ts(s.start_time_unix_nano)}",
        f"    End time       : {_ts(s.end_time_unix_nano)}",
        f"    Status code    : {_STATUS[s.status.code] if s.status.code < 3 else s.status.code}",
        f"    Status message : {s.status.message}",
    ]
    _attrs_block("Attributes", s.attributes, out)
    if len(s.events):
        out.append("Events:")
        for e, ev in enumerate(s.events):
            out += [f"SpanEvent #{e}", f"     -> Name: {ev.name}",
                    f"     -> Timestamp: {_ts(ev.time_unix_nano)}"]
            if len(ev.attributes):
                out.append("     -> Attributes::")
                out += [f"          -> {kv.key}: {value_text(_val(kv))}" for kv in ev.attributes]
    if len(s.links):
        out.append("Links:")
        for n, link in enumerate(s.links):
            out += [f"SpanLink #{n}", f"     -> Trace ID: {link.trace_id.hex()}",
                    f"     -> ID: {link.span_id.hex()}"]


def _log(k: int, r: Any, out: list[str]) -> None:
    out += [
        f"LogRecord #{k}",
        f"ObservedTimestamp: {_ts(r.observed_time_unix_nano)}",
        f"Timestamp: {_ts(r.time_unix_nano)}",
        f"SeverityText: {r.severity_text}",
        f"SeverityNumber: {r.severity_number}",
        f"Body: {value_text(r.body)}",
    ]
    if r.event_name:
        out.append(f"EventName: {r.event_name}")
    _attrs_block("Attributes", r.attributes, out)
    out += [f"Trace ID: {r.trace_id.hex()}", f"Span ID: {r.span_id.hex()}",
            f"Flags: {r.flags}"]


def _metric(k: int, m: Any, out: list[str]) -> None:
    kind = m.WhichOneof("data") or "empty"
    out += [f"Metric #{k}", "Descriptor:", f"     -> Name: {m.name}",
            f"     -> Description: {m.description}", f"     -> Unit: {m.unit}",
            f"     -> DataType: {kind.replace('_', ' ').title().replace(' ', '')}"]
    if kind == "empty":
        return
    data = getattr(m, kind)
    if kind == "sum":
        out.append(f"     -> IsMonotonic: {'true' if data.is_monotonic else 'false'}")
    if kind in ("sum", "histogram", "exponential_histogram"):
        out.append(f"     -> AggregationTemporality: {data.aggregation_temporality}")
    for n, dp in enumerate(data.data_points):
        out.append(f"{'NumberDataPoints' if kind in ('gauge', 'sum') else 'DataPoints'} #{n}")
        if len(dp.attributes):
            out.append("Data point attributes:")
            out += [f"     -> {kv.key}: {value_text(_val(kv))}" for kv in dp.attributes]
        out += [f"StartTimestamp: {_ts(dp.start_time_unix_nano)}",
                f"Timestamp: {_ts(dp.time_unix_nano)}",
                f"Value: {_point_value(kind, dp)}"]
