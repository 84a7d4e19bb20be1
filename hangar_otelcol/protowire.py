"""The two protobuf wire-format writers the gateway needs by hand (appending encoded
attributes, OTLP/JSON -> protobuf, google.rpc.Status): varints and length-delimited fields."""

from __future__ import annotations

#: the varints of 0..127 (one byte each), for callers that inline the one-byte case
SMALL_VARINTS = [bytes((i,)) for i in range(128)]
_MASK64 = 0xFFFFFFFFFFFFFFFF


def varint(n: int) -> bytes:
    """``n`` as a base-128 varint; negative numbers as their 64-bit two's complement."""
    if 0 <= n < 0x80:
        return SMALL_VARINTS[n]
    if 0 <= n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    n &= _MASK64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def length_delimited(field_no: int, payload: bytes) -> bytes:
    """Field ``field_no`` holding ``payload`` (a string, bytes or an embedded message)."""
    return varint(field_no << 3 | 2) + varint(len(payload)) + payload
