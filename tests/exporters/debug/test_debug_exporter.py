"""The ``debug`` exporter writes what passes through to stderr."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.exporters.debug.exporter import _Sampler
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.registry import default_registry
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings


def spans() -> Batch:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "mcp-hangar"
    ss = rs.scope_spans.add()
    ss.scope.name = "mcp_hangar.audit"
    s = ss.spans.add(name="tools/call add", trace_id=bytes(range(16)), span_id=bytes(range(8)),
                     kind=2, start_time_unix_nano=1_715_342_400_000_000_000)
    a = s.attributes.add()
    a.key, a.value.int_value = "gen_ai.usage.input_tokens", 42
    b = s.attributes.add()
    b.key, b.value.string_value = "mcp.caller.id", "alice"
    ss.spans.add(name="tools/call sub", trace_id=bytes(16), span_id=bytes(8))
    return Batch.of(Signal.TRACES, req)


def logs() -> Batch:
    req = ExportLogsServiceRequest()
    rec = req.resource_logs.add().scope_logs.add().log_records.add(severity_text="INFO")
    rec.body.string_value = "Tool add on mcp_server math success"
    kv = rec.attributes.add()
    kv.key, kv.value.string_value = "mcp.event.name", "tool_invocation"
    return Batch.of(Signal.LOGS, req)


def metrics() -> Batch:
    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add(name="mcp_cost_cents_total")
    m.sum.is_monotonic = True
    dp = m.sum.data_points.add(as_int=7)
    kv = dp.attributes.add()
    kv.key, kv.value.string_value = "tool", "add"
    return Batch.of(Signal.METRICS, req)


async def export(raw: dict[str, Any], *batches: Batch, telemetry: Telemetry | None = None
                 ) -> Any:
    factory = default_registry().get(Kind.EXPORTER, "debug")
    assert factory is not None
    exp = factory.create(make_settings(Kind.EXPORTER, "debug", telemetry or Telemetry()),
                         build(factory.config_class, raw, "exporters.debug"))
    await exp.start(StandaloneHost())
    for b in batches:
        await exp.consume(b)
    await exp.shutdown()
    return exp


async def test_basic_one_summary_line_per_batch(capsys: Any) -> None:
    tel = Telemetry()
    await export({}, spans(), logs(), metrics(), telemetry=tel)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    fields = [json.loads(line.split("\t")[3]) for line in lines]
    assert fields[0] == {"kind": "exporter", "data_type": "traces", "name": "debug",
                         "resource spans": 1, "spans": 2}
    assert lines[0].split("\t")[2] == "TracesExporter"
    assert fields[1]["log records"] == 1
    assert (fields[2]["metrics"], fields[2]["data points"]) == (1, 1)
    assert tel.registry.get_sample_value("otelcol_exporter_sent_spans_total",
                                         {"exporter": "debug"}) == 2


async def test_normal_one_line_per_record(capsys: Any) -> None:
    await export({"verbosity": "normal"}, spans(), logs(), metrics())
    err = capsys.readouterr().err
    assert "ResourceSpans #0 service.name=mcp-hangar" in err
    assert ("tools/call add 000102030405060708090a0b0c0d0e0f 0001020304050607 "
            "gen_ai.usage.input_tokens=42 mcp.caller.id=alice") in err
    assert "Tool add on mcp_server math success mcp.event.name=tool_invocation" in err
    assert "mcp_cost_cents_total{tool=add} 7" in err


async def test_detailed_dump(capsys: Any) -> None:
    await export({"verbosity": "detailed"}, spans(), logs(), metrics())
    err = capsys.readouterr().err
    for expected in ["Resource attributes:", "     -> service.name: Str(mcp-hangar)",
                     "InstrumentationScope mcp_hangar.audit", "Span #1",
                     "    Kind           : Server",
                     "    Start time     : 2024-05-10 12:00:00.000000000 +0000 UTC",
                     "     -> gen_ai.usage.input_tokens: Int(42)",
                     "Body: Str(Tool add on mcp_server math success)", "SeverityText: INFO",
                     "     -> IsMonotonic: true", "Value: 7"]:
        assert expected in err, expected


def test_sampling_per_second_and_signal() -> None:
    sampler = _Sampler(initial=2, thereafter=3)
    kept = [i for i in range(1, 9) if sampler.allow(Signal.LOGS, 100.5)]
    assert kept == [1, 2, 5, 8]  # the first 2, then every 3rd
    assert sampler.allow(Signal.TRACES, 100.6)  # counted per signal
    assert sampler.allow(Signal.LOGS, 101.0) and sampler.allow(Signal.LOGS, 101.2)  # new second


async def test_sampling_applies_to_the_output(capsys: Any) -> None:
    await export({"sampling_initial": 1, "sampling_thereafter": 1000},
                 *[logs() for _ in range(5)])
    assert 1 <= len(capsys.readouterr().err.splitlines()) <= 2  # 2 only if a second ticked


def test_config_errors() -> None:
    with pytest.raises(ConfigError) as err:
        build(default_registry().get(Kind.EXPORTER, "debug").config_class,  # type: ignore[union-attr]
              {"verbosity": "loud", "sampling_thereafter": 0}, "exporters.debug")
    assert "exporters.debug.verbosity: must be one of basic, normal, detailed" in str(err.value)
    assert "exporters.debug.sampling_thereafter: must be at least 1" in str(err.value)


def secret_spans() -> Batch:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "api_key", "resource-key-0000aaaa"
    s = rs.scope_spans.add().spans.add(name="tools/call add", trace_id=bytes(range(16)),
                                        span_id=bytes(range(8)))
    for key, value in [("authorization", "Bearer sk-live-0123456789abcdef"),
                       ("http.request.header.cookie", "session=s3cr3t-cookie-value"),
                       ("url.full", "https://bot:hunter2-PASSWORD@tool.example.com/x")]:
        a = s.attributes.add()
        a.key, a.value.string_value = key, value
    m = s.attributes.add()
    m.key = "http.request.headers"
    entry = m.value.kvlist_value.values.add()
    entry.key, entry.value.string_value = "X-Api-Key", "nested-key-1111bbbb"
    for key, count in [("mcp.cost.input_tokens", 1200), ("gen_ai.usage.output_tokens", 36)]:
        a = s.attributes.add()
        a.key, a.value.int_value = key, count
    ev = s.events.add(name="retry")
    a = ev.attributes.add()
    a.key, a.value.string_value = "token", "event-token-2222cccc"
    return Batch.of(Signal.TRACES, req)


@pytest.mark.parametrize("verbosity", ["normal", "detailed"])
async def test_secret_attributes_are_redacted_token_counts_are_not(capsys: Any,
                                                                   verbosity: str) -> None:
    await export({"verbosity": verbosity}, secret_spans())
    err = capsys.readouterr().err
    for secret in ("resource-key-0000aaaa", "sk-live-0123456789abcdef", "s3cr3t-cookie-value",
                   "hunter2-PASSWORD", "nested-key-1111bbbb", "event-token-2222cccc"):
        assert secret not in err, (secret, err)
    assert "<redacted: 31 chars, ends ...cdef>" in err  # authorization: length and tail
    assert "<redacted: 27 chars, ends ...alue>" in err  # the cookie: told apart
    assert "https://bot:<redacted: 16 chars, ends ...WORD>@tool.example.com/x" in err
    if verbosity == "detailed":
        assert "     -> authorization: Str(<redacted: 31 chars, ends ...cdef>)" in err
        assert "     -> http.request.headers: Map({X-Api-Key: <redacted: 19 chars, " \
               "ends ...bbbb>})" in err
        assert "     -> mcp.cost.input_tokens: Int(1200)" in err
        assert "     -> gen_ai.usage.output_tokens: Int(36)" in err
        assert "          -> token: Str(<redacted: 20 chars, ends ...cccc>)" in err
    else:
        assert "mcp.cost.input_tokens=1200 gen_ai.usage.output_tokens=36" in err
        assert "api_key=<redacted: 21 chars, ends ...aaaa>" in err
