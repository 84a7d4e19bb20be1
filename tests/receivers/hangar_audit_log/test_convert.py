"""Real hangar 1.1.0 stderr lines -> audit records shaped like hangar 2.x's."""

from __future__ import annotations

import orjson
import pytest

from hangar_otelcol.receivers.hangar_audit_log import convert
from hangar_otelcol.receivers.hangar_audit_log.convert import LineKind, parse_timestamp
from tests.receivers.hangar_audit_log.helpers import DATA

CAPTURED = (DATA / "v1.1.0-audit_event.jsonl").read_bytes().splitlines()


def _attrs(record) -> dict:
    out = {}
    for kv in record.attributes:
        which = kv.value.WhichOneof("value")
        out[kv.key] = (which, getattr(kv.value, which))
    return out


def test_captured_lines_are_all_audit_events() -> None:
    kinds = [convert.classify(line)[0] for line in CAPTURED]
    assert kinds == [LineKind.AUDIT] * 8


def test_tool_invocation_has_2x_shape() -> None:
    kind, obj = convert.classify(CAPTURED[2])  # add, success
    assert kind is LineKind.AUDIT and obj is not None
    rec = convert.audit_record(obj, add_genai_keys=True, observed_unix_nano=1)
    assert rec.body.string_value == "tool_invocation"
    assert (rec.severity_number, rec.severity_text) == (9, "INFO")
    # the line's own timestamp 2026-11-24T21:11:10.941378Z, to the microsecond
    assert rec.time_unix_nano == 1795554670941378000
    assert rec.observed_time_unix_nano == 1
    assert _attrs(rec) == {
        "mcp.event.name": ("string_value", "tool_invocation"),
        "mcp.server.id": ("string_value", "math"),
        "mcp.tool.name": ("string_value", "add"),
        "gen_ai.tool.name": ("string_value", "add"),
        "mcp.tool.status": ("string_value", "success"),
        "mcp.tool.duration_ms": ("double_value", 3.762483596801758),
    }


def test_failure_and_state_change() -> None:
    failed = [convert.audit_record(convert.classify(line)[1], add_genai_keys=False)
              for line in CAPTURED if b'"error"' in line]
    assert len(failed) == 1
    attrs = _attrs(failed[0])
    assert attrs["mcp.error.type"] == ("string_value", "TimeoutError")
    assert attrs["mcp.tool.duration_ms"] == ("double_value", 0.0)
    assert "gen_ai.tool.name" not in attrs  # add_genai_keys off keeps 1.1.0's keys only
    state = convert.audit_record(convert.classify(CAPTURED[0])[1], add_genai_keys=True)
    assert state.body.string_value == "mcp_server_state_change"
    assert _attrs(state)["mcp.server.state"] == ("string_value", "initializing")
    assert _attrs(state)["mcp.server.previous_state"] == ("string_value", "cold")


def test_types_nulls_and_structlog_keys() -> None:
    line = orjson.dumps({"mcp.event.name": "tool_invocation", "mcp.tool.duration_ms": 3,
                         "mcp.cost.cents": 12.0, "mcp.caller.type": None, "flag": True,
                         "nested": {"a": [1, "b"]}, "event": "audit_event",
                         "timestamp": "2026-01-01T00:00:00Z", "level": "info",
                         "logger": "l", "service": "svc"})
    rec = convert.audit_record(convert.classify(line)[1], add_genai_keys=True)
    attrs = _attrs(rec)
    assert attrs["mcp.tool.duration_ms"] == ("double_value", 3.0)
    assert attrs["mcp.cost.cents"] == ("int_value", 12)
    assert attrs["flag"] == ("bool_value", True)
    assert attrs["nested"][0] == "kvlist_value"
    assert "mcp.caller.type" not in attrs
    assert not {"event", "timestamp", "level", "logger", "service"} & set(attrs)


@pytest.mark.parametrize("line,kind", [
    (b"plain text from uvicorn", LineKind.NOT_JSON),
    (b"{broken json", LineKind.NOT_JSON),
    (b"[1, 2]", LineKind.NOT_JSON),
    (b'{"event": "audit_event"}', LineKind.OTHER),  # no mcp.event.name: not an audit record
    (b'{"event": "tracing_initialization_failed", "level": "error"}', LineKind.OTHER),
])
def test_classify(line: bytes, kind: LineKind) -> None:
    assert convert.classify(line)[0] is kind


@pytest.mark.parametrize("value,expected", [
    ("2026-11-24T21:11:10.936064Z", 1795554670936064000),
    ("2026-11-24T21:11:10+00:00", 1795554670000000000),
    ("2026-11-24T22:11:10.5+01:00", 1795554670500000000),
    (1795554670.5, 1795554670500000000),
    ("yesterday", 0),
    (None, 0),
])
def test_parse_timestamp(value, expected: int) -> None:
    assert parse_timestamp(value) == expected


def test_other_lines_keep_level_logger_and_text() -> None:
    startup = (DATA / "v1.1.0-startup.jsonl").read_bytes().splitlines()
    kind, obj = convert.classify(startup[1])
    rec, scope = convert.other_record(obj, startup[1])
    assert kind is LineKind.OTHER
    assert scope == "mcp_hangar.observability.tracing"
    assert rec.body.string_value == "tracing_initialization_failed"
    assert (rec.severity_number, rec.severity_text) == (17, "ERROR")
    plain, scope = convert.other_record(None, b"INFO: Started server process\r\n")
    assert plain.body.string_value == "INFO: Started server process"


def test_builder_groups_by_service_and_scope() -> None:
    builder = convert.RequestBuilder("1.1.0", {"deployment.environment": "dev"})
    for service in ("a", "b", "a"):
        record = convert.audit_record(convert.classify(CAPTURED[2])[1], add_genai_keys=True)
        builder.add(service, convert.AUDIT_SCOPE, record)
    request = builder.request
    assert builder.count == 3
    assert len(request.resource_logs) == 2
    first = request.resource_logs[0]
    assert {kv.key: kv.value.string_value for kv in first.resource.attributes} == {
        "service.name": "a", "service.version": "1.1.0", "deployment.environment": "dev"}
    assert [len(sl.log_records) for sl in first.scope_logs] == [2]
