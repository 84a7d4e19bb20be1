"""OTLP/JSON codec: the spec's deviations from proto3 JSON, leniency, clear errors.

The reference for "correct" is protobuf's own json_format after converting the
hex ids to base64 (the one thing it gets wrong), on the hangar captures.
"""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from hangar_otelcol import otlpjson
from hangar_otelcol.otlpjson import OtlpJsonError
from hangar_otelcol.pdata import Signal
from tests.support import captures

TID = "5B8EFFF798038103D269B633813FC60C"
SID = "EEE19B7EC3C1B174"


@pytest.mark.parametrize("path", captures.files(),
                         ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_captures_match_reference_and_round_trip(path):
    capture = captures.read(path)
    message = otlpjson.decode(capture.signal, json.dumps(capture.request).encode())
    assert message == capture.message()  # json_format's reading, with the ids fixed
    assert orjson.loads(otlpjson.encode(capture.signal, message)) == capture.request


def spans_doc(**span):
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def first_span(doc):
    return otlpjson.decode(Signal.TRACES, orjson.dumps(doc)).resource_spans[0] \
        .scope_spans[0].spans[0]


def test_encode_uses_hex_ids_string_int64_and_integer_enums():
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes.fromhex(TID)
    span.span_id = bytes.fromhex(SID)
    span.kind = 2
    span.start_time_unix_nano = 2**63 + 5
    span.status.code = 2
    kv = span.attributes.add()
    kv.key, kv.value.int_value = "n", -(2**63)
    kv = span.attributes.add()
    kv.key, kv.value.bytes_value = "b", b"\x00\xff"
    doc = orjson.loads(otlpjson.encode(Signal.TRACES, req))
    out = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert out["traceId"] == TID.lower()
    assert out["spanId"] == SID.lower()
    assert out["kind"] == 2
    assert out["startTimeUnixNano"] == str(2**63 + 5)
    assert out["status"] == {"code": 2}
    assert out["attributes"] == [{"key": "n", "value": {"intValue": str(-(2**63))}},
                                 {"key": "b", "value": {"bytesValue": "AP8="}}]
    assert otlpjson.decode(Signal.TRACES, otlpjson.encode(Signal.TRACES, req)) == req


def test_decoder_is_lenient_like_the_collector():
    span = first_span(spans_doc(
        traceId=TID, spanId=SID.lower(), kind="SPAN_KIND_CLIENT", start_time_unix_nano=17,
        endTimeUnixNano="18", flags=256, unknownField={"x": 1}, name=None,
        attributes=[{"key": "i", "value": {"intValue": 42}},
                    {"key": "d", "value": {"doubleValue": "NaN"}},
                    {"key": "e", "value": {}},
                    {"key": "k", "value": {"kvlistValue": {"values": [
                        {"key": "in", "value": {"arrayValue": {"values": [
                            {"boolValue": True}, {"doubleValue": 60}]}}}]}}},
                    {"key": "u", "value": {"bytesValue": "AP-_"}}]))
    assert span.trace_id == bytes.fromhex(TID)
    assert span.kind == 3
    assert (span.start_time_unix_nano, span.end_time_unix_nano, span.flags) == (17, 18, 256)
    assert span.name == ""
    attrs = {kv.key: kv.value for kv in span.attributes}
    assert attrs["i"].int_value == 42
    assert math.isnan(attrs["d"].double_value)
    assert attrs["e"] == AnyValue()
    inner = attrs["k"].kvlist_value.values[0].value.array_value.values
    assert (inner[0].bool_value, inner[1].double_value) == (True, 60.0)
    assert attrs["u"].bytes_value == b"\x00\xff\xbf"


@pytest.mark.parametrize(("span", "path", "fragment"), [
    ({"traceId": "abc"}, "spans[0].traceId", "32 hex digits"),
    ({"spanId": "zz" * 8}, "spans[0].spanId", "not hex"),
    ({"parentSpanId": SID + "00"}, "spans[0].parentSpanId", "16 hex digits"),
    ({"links": [{"traceId": TID, "spanId": "1"}]}, "spans[0].links[0].spanId", "16 hex"),
    ({"kind": "SERVER"}, "spans[0].kind", "enum"),
    ({"startTimeUnixNano": -1}, "spans[0].startTimeUnixNano", "out of range"),
    ({"name": 5}, "spans[0].name", "expected a string"),
    ({"attributes": {"key": "a"}}, "spans[0].attributes", "expected an array"),
    ({"attributes": [{"key": "a", "value": {"boolValue": "yes"}}]},
     "spans[0].attributes[0].value", "true or false"),
    ({"events": [{"attributes": [{"key": "a", "value": {"bytesValue": "!!"}}]}]},
     "spans[0].events[0].attributes[0].value.bytesValue", "base64"),
    ({"status": []}, "spans[0].status", "expected an object"),
])
def test_errors_name_the_field(span, path, fragment):
    with pytest.raises(OtlpJsonError) as info:
        otlpjson.decode(Signal.TRACES, orjson.dumps(spans_doc(**span)))
    message = str(info.value)
    assert message.startswith("resourceSpans[0].scopeSpans[0]." + path + ":"), message
    assert fragment in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b'"x"', b"\xff", b"null"])
def test_not_json_objects(data):
    with pytest.raises(OtlpJsonError):
        otlpjson.decode(Signal.LOGS, data)


def test_log_record_ids_only_associate():
    doc = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"traceId": "abc", "spanId": SID, "severityNumber": 17, "body": {"stringValue": "b"},
         "observedTimeUnixNano": "5", "eventName": "e"},
        {"traceId": "0" * 32, "spanId": "not hex at all!!"}]}]}]}
    msg = otlpjson.decode(Signal.LOGS, orjson.dumps(doc))
    first, second = msg.resource_logs[0].scope_logs[0].log_records
    assert (first.trace_id, first.span_id) == (b"", bytes.fromhex(SID))
    assert (first.severity_number, first.observed_time_unix_nano, first.event_name) == \
        (17, 5, "e")
    assert (second.trace_id, second.span_id) == (bytes(16), b"")


def test_every_metric_type_round_trips():
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    g = sm.metrics.add(name="g", unit="1")
    p = g.gauge.data_points.add(as_int=-5, time_unix_nano=1)
    ex = p.exemplars.add(as_double=1.5, trace_id=bytes.fromhex(TID), span_id=bytes.fromhex(SID))
    ex.filtered_attributes.add(key="k").value.string_value = "v"
    s = sm.metrics.add(name="s")
    s.sum.aggregation_temporality = 2
    s.sum.is_monotonic = True
    s.sum.data_points.add(as_double=0.0)
    h = sm.metrics.add(name="h")
    h.histogram.data_points.add(count=3, sum=0.0, bucket_counts=[1, 2, 2**64 - 1],
                                explicit_bounds=[0.5, math.inf], min=-1.0)
    e = sm.metrics.add(name="e")
    ep = e.exponential_histogram.data_points.add(scale=-3, zero_count=1, zero_threshold=1e-9)
    ep.positive.offset = -7
    ep.positive.bucket_counts.extend([1, 0, 3])
    ep.negative.offset = 2
    q = sm.metrics.add(name="q")
    q.summary.data_points.add(count=2, sum=3.0).quantile_values.add(quantile=0.99, value=-math.inf)
    sm.metrics.add(name="meta").metadata.add(key="m").value.int_value = 1
    wire = otlpjson.encode(Signal.METRICS, req)
    back = otlpjson.decode(Signal.METRICS, wire)
    assert back == req
    assert back.resource_metrics[0].scope_metrics[0].metrics[2].histogram.data_points[0] \
        .HasField("sum")  # optional field presence survives
    doc = orjson.loads(wire)
    bounds = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][2]["histogram"][
        "dataPoints"][0]["explicitBounds"]
    assert bounds == [0.5, "Infinity"]


def test_empty_documents():
    assert otlpjson.decode(Signal.TRACES, b"{}") == ExportTraceServiceRequest()
    assert otlpjson.decode(Signal.LOGS, b'{"resourceLogs": []}') == ExportLogsServiceRequest()
    assert otlpjson.encode(Signal.LOGS, ExportLogsServiceRequest()) == b"{}"


def test_encode_checks_the_message_type():
    with pytest.raises(TypeError):
        otlpjson.encode(Signal.LOGS, ExportTraceServiceRequest())


def test_deep_nesting_is_an_error_not_a_crash():
    value: dict = {"stringValue": "x"}
    for _ in range(3000):
        value = {"arrayValue": {"values": [value]}}
    doc = spans_doc(attributes=[{"key": "deep", "value": value}])
    with pytest.raises(OtlpJsonError):
        otlpjson.wire_from_dict(Signal.TRACES, doc)


any_values = st.recursive(
    st.one_of(
        st.builds(lambda s: AnyValue(string_value=s), st.text()),
        st.builds(lambda b: AnyValue(bool_value=b), st.booleans()),
        st.builds(lambda i: AnyValue(int_value=i), st.integers(-(2**63), 2**63 - 1)),
        st.builds(lambda d: AnyValue(double_value=d), st.floats(allow_nan=False)),
        st.builds(lambda b: AnyValue(bytes_value=b), st.binary(max_size=20)),
    ),
    lambda children: st.one_of(
        st.builds(lambda xs: AnyValue(array_value={"values": xs}),
                  st.lists(children, max_size=3)),
        st.builds(lambda kv: AnyValue(kvlist_value={"values": [
            {"key": k, "value": v} for k, v in kv.items()]}),
            st.dictionaries(st.text(max_size=5), children, max_size=3)),
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(), any_values), max_size=5), st.binary(min_size=16,
                                                                         max_size=16))
def test_attributes_round_trip(attrs, trace_id):
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add(trace_id=trace_id)
    for key, value in attrs:
        span.attributes.add(key=key).value.CopyFrom(value)
    assert otlpjson.decode(Signal.TRACES, otlpjson.encode(Signal.TRACES, req)) == req
