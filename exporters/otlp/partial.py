"""OTLP partial-success responses: logged (once per distinct message), never retried."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from hangar_otelcol.pdata import Signal

RESPONSE_TYPES: dict[Signal, Any] = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
}

_REJECTED_FIELD = {Signal.TRACES: "rejected_spans", Signal.LOGS: "rejected_log_records",
                   Signal.METRICS: "rejected_data_points"}
_REJECTED_JSON = {Signal.TRACES: "rejectedSpans", Signal.LOGS: "rejectedLogRecords",
                  Signal.METRICS: "rejectedDataPoints"}


class PartialSuccessLog:
    """Remembers which partial-success messages were already logged (bounded)."""

    def __init__(self, logger: logging.Logger, component: str) -> None:
        self._logger = logger
        self._component = component
        self._seen: set[str] = set()

    def report(self, signal: Signal, rejected: int, message: str) -> None:
        if not rejected and not message:
            return
        key = f"{signal.value}:{message}"
        if key in self._seen:
            return
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen.add(key)
        self._logger.warning(
            "%s: the server accepted the request only partly: %d %s rejected: %s "
            "(logged once per distinct message)", self._component, rejected,
            signal.item_name, message or "(no message)")

    def from_proto(self, signal: Signal, body: bytes) -> None:
        """Raises google.protobuf.message.DecodeError on a body that is not a response."""
        if not body:
            return
        response = RESPONSE_TYPES[signal].FromString(body)
        if response.HasField("partial_success"):
            ps = response.partial_success
            self.report(signal, int(getattr(ps, _REJECTED_FIELD[signal])), ps.error_message)

    def from_json(self, signal: Signal, body: Any) -> None:
        if not isinstance(body, dict):
            raise ValueError("response body is not a JSON object")
        ps = body.get("partialSuccess") or body.get("partial_success")
        if isinstance(ps, dict):
            rejected = ps.get(_REJECTED_JSON[signal]) or ps.get(_REJECTED_FIELD[signal]) or 0
            try:
                count = int(rejected)
            except (TypeError, ValueError):
                count = 0
            self.report(signal, count, str(ps.get("errorMessage") or
                                           ps.get("error_message") or ""))
