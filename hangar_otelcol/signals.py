"""Everything that differs between traces, logs and metrics, in one table.

Receivers, exporters, the batch splitter and the OTLP/JSON codec look up a signal's request
and response types, its gRPC service and method, its HTTP path, its item name and the
partial-success field here instead of keeping tables of their own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

Request = ExportTraceServiceRequest | ExportLogsServiceRequest | ExportMetricsServiceRequest
Response = ExportTraceServiceResponse | ExportLogsServiceResponse | ExportMetricsServiceResponse


class Signal(enum.StrEnum):
    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"

    @property
    def info(self) -> SignalInfo:
        return SIGNALS[self]

    @property
    def item_name(self) -> str:
        """The Collector's self-metric suffix for one item of this signal."""
        return SIGNALS[self].item_name


@dataclass(frozen=True, slots=True)
class SignalInfo:
    signal: Signal
    request_type: type[Any]
    response_type: type[Any]
    #: fully qualified gRPC service, e.g. opentelemetry.proto.collector.trace.v1.TraceService
    grpc_service: str
    #: the Collector's self-metric suffix for one item: spans, log_records, metric_points
    item_name: str
    #: ExportPartialSuccess field for refused items, protobuf and OTLP/JSON spelling
    rejected_field: str
    rejected_json: str
    #: default OTLP/HTTP path
    http_path: str

    @property
    def grpc_method(self) -> str:
        """The full method path of ``Export``: ``/<service>/Export``."""
        return f"/{self.grpc_service}/Export"


SIGNALS: dict[Signal, SignalInfo] = {
    Signal.TRACES: SignalInfo(
        Signal.TRACES, ExportTraceServiceRequest, ExportTraceServiceResponse,
        "opentelemetry.proto.collector.trace.v1.TraceService", "spans", "rejected_spans",
        "rejectedSpans", "/v1/traces"),
    Signal.LOGS: SignalInfo(
        Signal.LOGS, ExportLogsServiceRequest, ExportLogsServiceResponse,
        "opentelemetry.proto.collector.logs.v1.LogsService", "log_records",
        "rejected_log_records", "rejectedLogRecords", "/v1/logs"),
    Signal.METRICS: SignalInfo(
        Signal.METRICS, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        "opentelemetry.proto.collector.metrics.v1.MetricsService", "metric_points",
        "rejected_data_points", "rejectedDataPoints", "/v1/metrics"),
}

#: request message type per signal (``SIGNALS[s].request_type``), for the hot paths
REQUEST_TYPES: dict[Signal, type[Any]] = {s: i.request_type for s, i in SIGNALS.items()}


def signal_of(message: Request) -> Signal:
    """The signal of an Export*ServiceRequest."""
    for signal, info in SIGNALS.items():
        if isinstance(message, info.request_type):
            return signal
    raise TypeError(f"not an OTLP export request: {type(message).__name__}")
