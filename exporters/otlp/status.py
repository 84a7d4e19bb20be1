"""Reading ``google.rpc.Status`` (message + RetryInfo) without googleapis-common-protos.

OTLP servers put a Status in the gRPC trailer ``grpc-status-details-bin`` and in
the body of a failed OTLP/HTTP protobuf response. We need two things from it:
the message and the RetryInfo delay, so a 30-line wire reader beats a dependency.
"""

from __future__ import annotations

from collections.abc import Iterator

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs; value is int for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            yield number, data[pos:pos + length]
            pos += length
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")


def parse_status(data: bytes) -> tuple[str, float | None]:
    """(message, retry delay in seconds or None) of a serialized google.rpc.Status.

    Garbage gives ("", None): a malformed status must not turn into a crash.
    """
    message, delay = "", None
    try:
        for number, value in _fields(data):
            if number == 2 and isinstance(value, bytes):
                message = value.decode("utf-8", "replace")
            elif number == 3 and isinstance(value, bytes):
                type_url, payload = "", b""
                for n, v in _fields(value):
                    if n == 1 and isinstance(v, bytes):
                        type_url = v.decode("utf-8", "replace")
                    elif n == 2 and isinstance(v, bytes):
                        payload = v
                if type_url == RETRY_INFO:
                    delay = _retry_delay(payload)
    except ValueError:
        return message, delay
    return message, delay


def _retry_delay(payload: bytes) -> float:
    seconds = nanos = 0
    for n, v in _fields(payload):
        if n == 1 and isinstance(v, bytes):  # RetryInfo.retry_delay: Duration
            for dn, dv in _fields(v):
                if dn == 1 and isinstance(dv, int):
                    seconds = dv
                elif dn == 2 and isinstance(dv, int):
                    nanos = dv
    return max(0.0, seconds + nanos / 1e9)
