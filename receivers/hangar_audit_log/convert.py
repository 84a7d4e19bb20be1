"""Hangar log line -> OTLP LogRecord (pure functions, no I/O).

MCP Hangar 1.1.0 cannot export its audit records over OTLP (docs/hangar-versions.md, 1.1.0): each
one falls back to a structlog JSON line such as

    {"mcp.event.name": "tool_invocation", "mcp.server.id": "math", "mcp.tool.name": "add",
     "mcp.tool.status": "success", "mcp.tool.duration_ms": 3.76, "event": "audit_event",
     "level": "info", "logger": "...otlp_audit_exporter", "timestamp": "...Z",
     "service": "mcp-hangar"}

The record built here is what hangar 2.x sends for the same event (§5): scope
``mcp_hangar.audit``, body = ``mcp.event.name``, severity INFO (9) even for failures, the
line's own timestamp, the ``mcp.*`` keys as attributes with the same OTLP types, and no
attribute for a ``null`` value.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from typing import Any

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber

AUDIT_EVENT = "audit_event"
AUDIT_SCOPE = "mcp_hangar.audit"
#: scope of forwarded lines that name no logger
OTHER_SCOPE = "hangar_otelcol.hangar_audit_log"
SEVERITY_INFO = SeverityNumber.SEVERITY_NUMBER_INFO

#: structlog's own keys: they describe the line, not the audit record
STRUCTLOG_KEYS = frozenset({"event", "level", "logger", "timestamp", "service"})
#: keys whose OTLP type hangar fixes whatever the JSON number looks like (§5a)
DOUBLE_KEYS = frozenset({"mcp.tool.duration_ms"})
INT_KEYS = frozenset({
    "mcp.cost.cents", "mcp.cost.input_tokens", "mcp.cost.output_tokens",
    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
})
#: 1.1.0 key -> the key 1.6+ and 2.x use for the same value
GENAI_KEYS = {
    "mcp.tool.name": "gen_ai.tool.name",
    "mcp.cost.input_tokens": "gen_ai.usage.input_tokens",
    "mcp.cost.output_tokens": "gen_ai.usage.output_tokens",
}
_SN = SeverityNumber
SEVERITIES = {
    "debug": (_SN.SEVERITY_NUMBER_DEBUG, "DEBUG"), "info": (_SN.SEVERITY_NUMBER_INFO, "INFO"),
    "warning": (_SN.SEVERITY_NUMBER_WARN, "WARN"), "warn": (_SN.SEVERITY_NUMBER_WARN, "WARN"),
    "error": (_SN.SEVERITY_NUMBER_ERROR, "ERROR"),
    "exception": (_SN.SEVERITY_NUMBER_ERROR, "ERROR"),
    "critical": (_SN.SEVERITY_NUMBER_FATAL, "FATAL"), "fatal": (_SN.SEVERITY_NUMBER_FATAL, "FATAL"),
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class LineKind(enum.StrEnum):
    AUDIT = "audit"
    OTHER = "other"
    NOT_JSON = "not_json"


def classify(line: bytes) -> tuple[LineKind, dict[str, Any] | None]:
    """What a line is; the parsed object for JSON objects."""
    text = line.strip()
    if not text.startswith(b"{"):
        return LineKind.NOT_JSON, None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return LineKind.NOT_JSON, None
    if not isinstance(obj, dict):
        return LineKind.NOT_JSON, None
    if obj.get("event") == AUDIT_EVENT and isinstance(obj.get("mcp.event.name"), str):
        return LineKind.AUDIT, obj
    return LineKind.OTHER, obj


def parse_timestamp(value: Any) -> int:
    """Unix nanoseconds of an ISO-8601 string or epoch seconds; 0 if unreadable."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return int(value * 1_000_000_000) if value > 0 else 0
    if not isinstance(value, str) or not value:
        return 0
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return 0
    if stamp.tzinfo is None:  # structlog's TimeStamper(utc=True) always writes Z; assume UTC
        stamp = stamp.replace(tzinfo=dt.UTC)
    # integer arithmetic: a float timestamp would lose the microseconds
    return (stamp - _EPOCH) // dt.timedelta(microseconds=1) * 1000


def set_any(target: AnyValue, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, list):
        for item in value:
            set_any(target.array_value.values.add(), item)
    elif isinstance(value, dict):
        for k, v in value.items():
            if v is not None:
                kv = target.kvlist_value.values.add(key=str(k))
                set_any(kv.value, v)
    else:
        target.string_value = str(value)


def _typed(key: str, value: Any) -> Any:
    if key in DOUBLE_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if key in INT_KEYS and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _add_attr(record: LogRecord, key: str, value: Any) -> None:
    kv: KeyValue = record.attributes.add(key=key)
    set_any(kv.value, _typed(key, value))


def audit_record(obj: dict[str, Any], *, add_genai_keys: bool,
                 observed_unix_nano: int | None = None) -> LogRecord:
    """The 2.x-shaped audit LogRecord of one ``audit_event`` line."""
    observed = observed_unix_nano or time.time_ns()
    event_name = obj["mcp.event.name"]
    record = LogRecord(
        time_unix_nano=parse_timestamp(obj.get("timestamp")) or observed,
        observed_time_unix_nano=observed,
        severity_number=SEVERITY_INFO,
        severity_text="INFO",
    )
    record.body.string_value = event_name
    for key, value in obj.items():
        if key in STRUCTLOG_KEYS or value is None:
            continue
        _add_attr(record, key, value)
        alias = GENAI_KEYS.get(key) if add_genai_keys else None
        if alias and obj.get(alias) is None:
            _add_attr(record, alias, value)
    return record


def other_record(obj: dict[str, Any] | None, raw: bytes,
                 observed_unix_nano: int | None = None) -> tuple[LogRecord, str]:
    """A plain LogRecord (and its scope name) for a line that is not an audit event."""
    observed = observed_unix_nano or time.time_ns()
    record = LogRecord(observed_time_unix_nano=observed)
    if obj is None:
        record.time_unix_nano = observed
        record.body.string_value = raw.decode("utf-8", "replace").rstrip("\r\n")
        return record, OTHER_SCOPE
    record.time_unix_nano = parse_timestamp(obj.get("timestamp")) or observed
    level = obj.get("level")
    if isinstance(level, str) and level.lower() in SEVERITIES:
        record.severity_number, record.severity_text = SEVERITIES[level.lower()]
    event = obj.get("event")
    set_any(record.body, event if event is not None else "")
    for key, value in obj.items():
        if key in STRUCTLOG_KEYS or value is None:
            continue
        _add_attr(record, key, value)
    logger = obj.get("logger")
    return record, logger if isinstance(logger, str) and logger else OTHER_SCOPE


def service_of(obj: dict[str, Any] | None, default: str) -> str:
    service = obj.get("service") if obj else None
    return service if isinstance(service, str) and service else default


class RequestBuilder:
    """Collects records into one ExportLogsServiceRequest: one resource per service name and
    one scope per scope name, in arrival order."""

    def __init__(self, service_version: str = "",
                 resource_attributes: dict[str, str] | None = None) -> None:
        self._version = service_version
        self._extra = resource_attributes or {}
        self.request = ExportLogsServiceRequest()
        self._scopes: dict[tuple[str, str], Any] = {}
        self._resources: dict[str, Any] = {}
        self.count = 0

    def add(self, service: str, scope: str, record: LogRecord) -> None:
        scope_logs = self._scopes.get((service, scope))
        if scope_logs is None:
            resource_logs = self._resources.get(service)
            if resource_logs is None:
                resource_logs = self.request.resource_logs.add()
                attrs = resource_logs.resource.attributes
                attrs.add(key="service.name").value.string_value = service
                if self._version:
                    attrs.add(key="service.version").value.string_value = self._version
                for key, value in self._extra.items():
                    if key not in ("service.name", "service.version"):
                        attrs.add(key=key).value.string_value = value
                self._resources[service] = resource_logs
            scope_logs = resource_logs.scope_logs.add()
            scope_logs.scope.name = scope
            self._scopes[(service, scope)] = scope_logs
        scope_logs.log_records.append(record)
        self.count += 1
