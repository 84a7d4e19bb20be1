"""Outcome of one export request, and its gRPC / HTTP / google.rpc.Status forms.

One place decides what a failure means (formats.md §5.3, collector-conventions.md
§1.1): bad data -> INVALID_ARGUMENT / 400 (never retried); overload or a
retryable pipeline error -> UNAVAILABLE / 503 with a retry hint; oversize ->
413; a signal nobody consumes -> UNIMPLEMENTED / 404; partial success -> OK / 200
with ``partial_success`` set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import grpc
import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from hangar_otelcol.pdata import Signal
from hangar_otelcol.protowire import length_delimited, varint

RESPONSE_TYPES = {
    Signal.TRACES: ExportTraceServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
    Signal.METRICS: ExportMetricsServiceResponse,
}
_REJECTED_FIELD = {
    Signal.TRACES: "rejected_spans",
    Signal.LOGS: "rejected_log_records",
    Signal.METRICS: "rejected_data_points",
}

# gRPC code -> HTTP status, as the Collector's internal/errors maps them
_HTTP_FOR_CODE = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNIMPLEMENTED: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 413,  # only used for "too large" here
    grpc.StatusCode.UNAVAILABLE: 503,
}


@dataclass(slots=True)
class Outcome:
    """What the receiver answers to one request."""

    code: grpc.StatusCode = grpc.StatusCode.OK
    message: str = ""
    #: seconds; sent as Retry-After / RetryInfo when the failure is retryable
    retry_after: float | None = None
    #: partial success: items refused (with ``message`` as the explanation)
    rejected: int = 0
    #: overrides the HTTP status derived from ``code`` (415, 405, 413)
    http_status: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == grpc.StatusCode.OK

    @property
    def status(self) -> int:
        if self.http_status is not None:
            return self.http_status
        return _HTTP_FOR_CODE.get(self.code, 500)


OK = Outcome()


def bad_request(message: str) -> Outcome:
    return Outcome(grpc.StatusCode.INVALID_ARGUMENT, message)


def unavailable(message: str, retry_after: float | None) -> Outcome:
    return Outcome(grpc.StatusCode.UNAVAILABLE, message, retry_after=retry_after)


def too_large(message: str) -> Outcome:
    return Outcome(grpc.StatusCode.RESOURCE_EXHAUSTED, message, http_status=413)


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1 (the header has no fractions)."""
    return str(max(1, math.ceil(seconds)))


# --------------------------------------------------------------------------- responses

def success_body(signal: Signal, outcome: Outcome, json: bool) -> bytes:
    """The Export*ServiceResponse for a 200: empty, or with partial_success set."""
    if not outcome.rejected and not outcome.message:
        return b"{}" if json else b""
    response = RESPONSE_TYPES[signal]()
    setattr(response.partial_success, _REJECTED_FIELD[signal], outcome.rejected)
    response.partial_success.error_message = outcome.message
    if json:
        from hangar_otelcol import otlpjson  # local: only partial successes need it

        return otlpjson.encode_message(response)
    return response.SerializeToString()


def grpc_success(signal: Signal, outcome: Outcome) -> bytes:
    return success_body(signal, outcome, json=False)


# google.rpc.Status and RetryInfo are written by hand: four fields, no extra dependency.

_RETRY_INFO_URL = b"type.googleapis.com/google.rpc.RetryInfo"


def _retry_info(seconds: float) -> bytes:
    whole = int(seconds)
    nanos = round((seconds - whole) * 1e9)
    duration = (b"\x08" + varint(whole) if whole else b"") + (
        b"\x10" + varint(nanos) if nanos else b"")
    return length_delimited(1, duration)  # RetryInfo.retry_delay


def rpc_status(outcome: Outcome) -> bytes:
    """A serialized google.rpc.Status (code, message, RetryInfo detail if retryable)."""
    code = outcome.code.value[0]
    out = b"\x08" + varint(code) if code else b""
    if outcome.message:
        out += length_delimited(2, outcome.message.encode())
    if outcome.retry_after is not None:
        any_msg = length_delimited(1, _RETRY_INFO_URL) + \
            length_delimited(2, _retry_info(outcome.retry_after))
        out += length_delimited(3, any_msg)
    return out


def rpc_status_json(outcome: Outcome) -> bytes:
    body: dict[str, object] = {"code": outcome.code.value[0], "message": outcome.message}
    if outcome.retry_after is not None:
        delay = f"{outcome.retry_after:.9f}".rstrip("0").rstrip(".") + "s"
        body["details"] = [{"@type": _RETRY_INFO_URL.decode(), "retryDelay": delay}]
    return orjson.dumps(body)


__all__ = ["OK", "Outcome", "bad_request", "grpc_success", "retry_after_header",
           "rpc_status", "rpc_status_json", "success_body", "too_large", "unavailable"]
