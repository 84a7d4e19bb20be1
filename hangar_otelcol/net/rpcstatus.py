"""``google.rpc.Status`` with a ``RetryInfo`` detail: what OTLP servers answer on failure.

Written by the receiver (gRPC trailer ``grpc-status-details-bin``, OTLP/HTTP error bodies)
and read by the exporters, with googleapis-common-protos' generated types in both
directions.
"""

from __future__ import annotations

import datetime

import orjson
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"


def _retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    info = error_details_pb2.RetryInfo()
    info.retry_delay.FromTimedelta(datetime.timedelta(seconds=max(0.0, seconds)))
    return info


def retry_info(seconds: float) -> bytes:
    """A serialized RetryInfo on its own."""
    return _retry_info(seconds).SerializeToString()


def encode(code: int, message: str, retry_after: float | None = None) -> bytes:
    """A serialized Status; ``retry_after`` (seconds) adds a RetryInfo detail."""
    status = status_pb2.Status(code=code, message=message)
    if retry_after is not None:
        status.details.add().Pack(_retry_info(retry_after))
    return status.SerializeToString()


def encode_json(code: int, message: str, retry_after: float | None = None) -> bytes:
    """The same Status in proto3 JSON (the OTLP/HTTP JSON error body)."""
    body: dict[str, object] = {"code": code, "message": message}
    if retry_after is not None:
        delay = f"{max(0.0, retry_after):.9f}".rstrip("0").rstrip(".") + "s"
        body["details"] = [{"@type": RETRY_INFO_TYPE, "retryDelay": delay}]
    return orjson.dumps(body)


def decode(data: bytes) -> tuple[int, str, float | None]:
    """(code, message, retry delay in seconds or None) of a serialized Status.

    Garbage gives (0, "", None): a malformed answer from a server must not crash an exporter.
    """
    try:
        status = status_pb2.Status.FromString(data)
    except DecodeError:
        return 0, "", None
    delay = None
    for detail in status.details:
        if detail.type_url == RETRY_INFO_TYPE:
            info = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                delay = max(0.0, info.retry_delay.ToTimedelta().total_seconds())
    return status.code, status.message, delay
