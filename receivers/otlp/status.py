"""Outcome of one export request, and its gRPC / HTTP / google.rpc.Status forms.

One place decides what a failure means (receivers/otlp/README.md, "Answers"): bad
data -> INVALID_ARGUMENT / 400 (never retried); overload or a retryable pipeline error ->
UNAVAILABLE / 503 with a retry hint; oversize -> 413; a signal nobody consumes ->
UNIMPLEMENTED / 404; partial success -> OK / 200 with ``partial_success`` set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import grpc

from hangar_otelcol.net import rpcstatus
from hangar_otelcol.pdata import Signal

# gRPC code -> HTTP status, as the Collector's internal/errors maps them
_HTTP_FOR_CODE = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNIMPLEMENTED: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
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
    #: WWW-Authenticate of an UNAUTHENTICATED answer over HTTP
    challenge: str = ""

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


def exhausted(message: str, retry_after: float) -> Outcome:
    """Too much in flight: RESOURCE_EXHAUSTED / 429, with a retry hint."""
    return Outcome(grpc.StatusCode.RESOURCE_EXHAUSTED, message, retry_after=retry_after,
                   http_status=429)


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
    info = signal.info
    response = info.response_type()
    setattr(response.partial_success, info.rejected_field, outcome.rejected)
    response.partial_success.error_message = outcome.message
    if json:
        from hangar_otelcol import otlpjson  # local: only partial successes need it

        return otlpjson.encode_message(response)
    return response.SerializeToString()


def grpc_success(signal: Signal, outcome: Outcome) -> bytes:
    return success_body(signal, outcome, json=False)


def rpc_status(outcome: Outcome) -> bytes:
    """A serialized google.rpc.Status (code, message, RetryInfo detail if retryable)."""
    return rpcstatus.encode(outcome.code.value[0], outcome.message, outcome.retry_after)


def grpc_trailers(outcome: Outcome) -> tuple[tuple[str, bytes], ...]:
    """The retry hint as gRPC trailers: the Status with its RetryInfo detail (what the
    Collector's exporters read) and the RetryInfo alone under ``google.rpc.retryinfo-bin``
    (what the OpenTelemetry Python SDK's exporter reads)."""
    if outcome.retry_after is None:
        return ()
    return (("grpc-status-details-bin", rpc_status(outcome)),
            ("google.rpc.retryinfo-bin", rpcstatus.retry_info(outcome.retry_after)))


def rpc_status_json(outcome: Outcome) -> bytes:
    return rpcstatus.encode_json(outcome.code.value[0], outcome.message, outcome.retry_after)


__all__ = ["OK", "Outcome", "bad_request", "exhausted", "grpc_success", "grpc_trailers",
           "retry_after_header", "rpc_status", "rpc_status_json", "success_body", "too_large",
           "unavailable"]
