"""OTLP/JSON <-> protobuf for traces, logs and metrics.

OTLP/JSON is the proto3 JSON mapping with three deviations (receivers/otlp/README.md):
trace and span ids are hex strings (not base64), enums are integers, and keys
are lowerCamelCase. ``google.protobuf.json_format`` gets the ids wrong and is
~250x slower than binary protobuf, so both directions are written here.

Decoding does not build protobuf objects field by field from Python (that costs
more than the JSON parse). It writes protobuf *wire bytes* straight from the
dicts ``orjson`` returns, and upb parses them once in C. ``decode_wire`` hands
those bytes to a receiver, which keeps them as the part's wire bytes, so an
untouched request is never serialized again.

The decoders are compiled once from the message descriptors: one small closure
per field. ``KeyValue``/``AnyValue`` (most of the bytes in real data) have
hand-written fast paths.

Leniency, as the OpenTelemetry Collector: unknown keys are ignored, snake_case
keys are accepted besides lowerCamelCase, 64-bit integers may be strings or
numbers, enums may be integers or their names, hex ids are case-insensitive,
``null`` means "not set". Strictness: a span or link id of the wrong length is
an error; on log records and exemplars it only means "no association" (logs.proto)
and is dropped.
"""

from __future__ import annotations

import base64
import binascii
import gc
import math
import struct
from collections.abc import Callable
from typing import Any

import orjson
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from hangar_otelcol.protowire import SMALL_VARINTS as _SMALL
from hangar_otelcol.protowire import varint as _varint
from hangar_otelcol.signals import REQUEST_TYPES, Request, Signal

__all__ = ["OtlpJsonError", "decode", "decode_wire", "encode", "encode_message", "to_dict"]


class OtlpJsonError(ValueError):
    """The body is not valid OTLP/JSON; the message names the offending field."""


class _Err(Exception):
    """Internal: a decode problem; the path is collected while unwinding."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []

    def render(self) -> str:
        out = ""
        for piece in reversed(self.path):
            out += piece if piece.startswith("[") or not out else "." + piece
        return f"{out}: {self.message}" if out else self.message


# --------------------------------------------------------------------------- wire helpers

def _ld(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    n = len(payload)
    return tag + (_SMALL[n] if n < 128 else _varint(n)) + payload


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


_pack_d = struct.Struct("<d").pack
_pack_Q = struct.Struct("<Q").pack
_pack_q = struct.Struct("<q").pack
_pack_I = struct.Struct("<I").pack

_U64 = (1 << 64) - 1
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"string {text!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --------------------------------------------------------------------------- scalar parsing

def _int(value: Any, lo: int, hi: int, what: str) -> int:
    t = type(value)
    if t is int:
        n = value
    elif t is str:
        try:
            n = int(value.strip(), 10)
        except ValueError:
            raise _Err(f"expected {what} (a number or a decimal string), "
                       f"got {_describe(value)}") from None
    elif t is float and value.is_integer():
        n = int(value)
    else:
        raise _Err(f"expected {what}, got {_describe(value)}")
    if n < lo or n > hi:
        raise _Err(f"{n} is out of range for {what}")
    return n


def _double(value: Any) -> float:
    t = type(value)
    if t is float or t is int:
        return float(value)
    if t is str:
        special = _SPECIAL_DOUBLES.get(value)
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            pass
    raise _Err(f"expected a number, got {_describe(value)}")


_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _str_bytes(value: Any) -> bytes:
    if type(value) is not str:
        raise _Err(f"expected a string, got {_describe(value)}")
    return value.encode()


def _hex_id(value: Any, size: int, what: str) -> bytes:
    """A span/trace id: hex (any case) of exactly ``size`` bytes, or empty."""
    if type(value) is not str:
        raise _Err(f"expected a hex string, got {_describe(value)}")
    if not value:
        return b""
    if len(value) != 2 * size:
        raise _Err(f"{what} must be {2 * size} hex digits ({size} bytes), "
                   f"got {len(value)} characters")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise _Err(f"{what} is not hex: {_describe(value)}") from None


def _optional_hex_id(value: Any, size: int) -> bytes:
    """An id that only links a record to a trace: anything invalid means 'no link'."""
    if type(value) is not str or len(value) != 2 * size:
        return b""
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def _b64(value: Any) -> bytes:
    if type(value) is not str:
        raise _Err(f"expected a base64 string, got {_describe(value)}")
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _Err(f"invalid base64: {_describe(value)}") from None


# --------------------------------------------------------------------------- AnyValue / KeyValue

_T_STR = b"\x0a"  # AnyValue.string_value / KeyValue.key (field 1, length-delimited)
_T_KV_VALUE = b"\x12"  # KeyValue.value (field 2)


def _named(key: str, encode: Callable[[Any], bytes], value: Any) -> bytes:
    """``encode(value)``; an error names ``key`` in its path."""
    try:
        return encode(value)
    except _Err as e:
        e.path.append(key)
        raise


def _nested(key: str, tag: bytes, encode: Callable[..., bytes], value: Any,
            *args: Any) -> bytes:
    """``value`` encoded as the length-delimited field ``tag``; an error names ``key``."""
    try:
        return _ld(tag, encode(value, *args))
    except _Err as e:
        e.path.append(key)
        raise


def _int64_varint(value: Any) -> bytes:
    return _varint(_int(value, _I64_MIN, _I64_MAX, "a 64-bit integer") & _U64)


def _pack_double(value: Any) -> bytes:
    return _pack_d(_double(value))


def _any_value(v: Any, depth: int = 0) -> bytes:
    """Wire bytes of one AnyValue (the message body, without tag/length).

    ``depth``: how many arrayValue/kvlistValue levels enclose it (bounded by
    ``MAX_VALUE_DEPTH``, so a deeply nested body cannot make the decoder copy each
    level's bytes again and again, nor reach upb's recursion limit).
    """
    if type(v) is not dict:
        raise _Err(f"expected an object, got {_describe(v)}")
    out: list[bytes] = []  # pieces joined once: ``bytes +=`` copies (quadratic, issue 13)
    append = out.append
    for k, x in v.items():  # a oneof: normally one key; unknown keys are ignored
        if x is None:
            continue
        if k == "stringValue" or k == "string_value":
            if type(x) is not str:
                raise _Err(f"stringValue: expected a string, got {_describe(x)}")
            b = x.encode()
            n = len(b)
            append(b"\x0a" + (_SMALL[n] if n < 128 else _varint(n)) + b)
        elif k == "intValue" or k == "int_value":
            append(b"\x18" + _named(k, _int64_varint, x))
        elif k == "doubleValue" or k == "double_value":
            append(b"\x21" + _named(k, _pack_double, x))
        elif k == "boolValue" or k == "bool_value":
            if type(x) is not bool:
                raise _Err(f"boolValue: expected true or false, got {_describe(x)}")
            append(b"\x10\x01" if x else b"\x10\x00")
        elif k == "arrayValue" or k == "array_value":
            append(_nested(k, b"\x2a", _array_value, x, depth + 1))
        elif k == "kvlistValue" or k == "kvlist_value":
            append(_nested(k, b"\x32", _kvlist_value, x, depth + 1))
        elif k == "bytesValue" or k == "bytes_value":
            append(_nested(k, b"\x3a", _b64, x))
        # stringValueStrindex (profiles only) and unknown keys: ignored
    return out[0] if len(out) == 1 else b"".join(out)


#: arrayValue/kvlistValue levels one value may nest (the Collector sets none; upb stops
#: at 100 message levels, about 45 of these; real attributes nest a few)
MAX_VALUE_DEPTH = 32


def _deeper(depth: int) -> None:
    if depth > MAX_VALUE_DEPTH:
        raise _Err(f"values nest more than {MAX_VALUE_DEPTH} arrayValue/kvlistValue levels "
                   "deep (the decoder's limit)")


def _values_of(v: Any, depth: int) -> Any:
    """The ``values`` of an arrayValue / kvlistValue object (None: none), checked to be in
    an object that nests at most MAX_VALUE_DEPTH levels."""
    if type(v) is not dict:
        raise _Err(f"expected an object, got {_describe(v)}")
    _deeper(depth)
    return v.get("values")


def _array_value(v: Any, depth: int = 1) -> bytes:
    values = _values_of(v, depth)
    if values is None:
        return b""
    if type(values) is not list:
        raise _Err(f"values: expected an array, got {_describe(values)}")
    out: list[bytes] = []  # joined once (``out +=`` on bytes was quadratic, issue 13)
    append = out.append
    small = _SMALL
    i = 0
    try:
        for i, item in enumerate(values):  # noqa: B007 - i is read in the except clause
            if type(item) is dict and not item:  # {}: an empty AnyValue
                append(b"\x0a\x00")
                continue
            body = _any_value(item, depth)
            n = len(body)
            append(b"\x0a" + (small[n] if n < 128 else _varint(n)) + body)
    except _Err as e:
        e.path.append(f"[{i}]")
        e.path.append("values")
        raise
    return b"".join(out)


def _kvlist_value(v: Any, depth: int = 1) -> bytes:
    values = _values_of(v, depth)
    if values is None:
        return b""
    try:
        return _key_values(b"\x0a", values, depth)
    except _Err as e:
        e.path.append("values")
        raise


# KeyValue.key wire prefix (tag, length, UTF-8) per key string. Attribute keys have
# low cardinality; the bound keeps a sender of random keys from growing it forever.
_KEY_PREFIXES: dict[str, bytes] = {}
_KEY_CACHE_MAX = 4096


def _key_prefix(key: Any) -> bytes:
    if type(key) is not str:
        raise _Err(f"key: expected a string, got {_describe(key)}")
    kb = key.encode()
    n = len(kb)
    prefix = b"\x0a" + (_SMALL[n] if n < 128 else _varint(n)) + kb
    if len(_KEY_PREFIXES) < _KEY_CACHE_MAX:
        _KEY_PREFIXES[key] = prefix
    return prefix


def _key_values(tag: bytes, items: Any, depth: int = 0) -> bytes:
    """A repeated KeyValue field (attributes): the hottest path of the decoder.

    Emits the pieces of every KeyValue into one list joined once; string and int
    values (nearly all attributes) skip the generic AnyValue code.
    """
    if type(items) is not list:
        raise _Err(f"expected an array, got {_describe(items)}")
    out: list[bytes] = []
    extend = out.extend
    prefixes = _KEY_PREFIXES
    small = _SMALL
    i = 0
    try:
        for i, kv in enumerate(items):  # noqa: B007 - i is read in the except clause
            if type(kv) is not dict:
                raise _Err(f"expected an object with key and value, got {_describe(kv)}")
            key = kv.get("key")
            if key is None:
                kp = b""
            else:
                kp = prefixes.get(key)  # type: ignore[assignment]
                if kp is None:
                    kp = _key_prefix(key)
            value = kv.get("value")
            if type(value) is dict and len(value) == 1:
                sv = value.get("stringValue")
                if type(sv) is str:
                    vb = sv.encode()
                    n = len(vb)
                    if n < 126:
                        total = len(kp) + n + 4
                        if total < 128:
                            extend((tag, small[total], kp, b"\x12", small[n + 2], b"\x0a",
                                    small[n], vb))
                            continue
                    any_body = b"\x0a" + _varint(n) + vb
                else:
                    iv = value.get("intValue")
                    if type(iv) is str or type(iv) is int:
                        try:
                            any_body = b"\x18" + _varint(
                                _int(iv, _I64_MIN, _I64_MAX, "a 64-bit integer") & _U64)
                        except _Err as e:
                            e.path.append("intValue")
                            e.path.append("value")
                            raise
                    else:
                        any_body = _value_of(value, depth)
            elif value is None:
                n = len(kp)
                extend((tag, small[n] if n < 128 else _varint(n), kp))
                continue
            else:
                any_body = _value_of(value, depth)
            n = len(any_body)
            body = kp + b"\x12" + (small[n] if n < 128 else _varint(n)) + any_body
            n = len(body)
            extend((tag, small[n] if n < 128 else _varint(n), body))
    except _Err as e:
        e.path.append(f"[{i}]")
        raise
    return b"".join(out)


def _value_of(value: Any, depth: int = 0) -> bytes:
    try:
        return _any_value(value, depth)
    except _Err as e:
        e.path.append("value")
        raise


# --------------------------------------------------------------------------- compiled decoders

Handler = Callable[[Any], bytes]

_ID_FIELDS = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}
# messages whose ids only associate a record with a trace (invalid -> dropped)
_OPTIONAL_ID_MESSAGES = {"opentelemetry.proto.logs.v1.LogRecord",
                         "opentelemetry.proto.metrics.v1.Exemplar"}

_FD = FieldDescriptor
_WIRE_TYPES = {
    _FD.TYPE_DOUBLE: 1, _FD.TYPE_FIXED64: 1, _FD.TYPE_SFIXED64: 1,
    _FD.TYPE_FIXED32: 5, _FD.TYPE_SFIXED32: 5, _FD.TYPE_FLOAT: 5,
    _FD.TYPE_STRING: 2, _FD.TYPE_BYTES: 2, _FD.TYPE_MESSAGE: 2,
}

_pack_f = struct.Struct("<f").pack
_pack_i = struct.Struct("<i").pack


def _scalar_encoder(field: FieldDescriptor, owner: str) -> Callable[[Any], bytes]:
    """value -> wire bytes of the value alone (no tag) for one scalar field type."""
    t = field.type
    if t == _FD.TYPE_STRING:
        def enc(v: Any) -> bytes:
            b = _str_bytes(v)
            n = len(b)
            return (_SMALL[n] if n < 128 else _varint(n)) + b
        return enc
    if t == _FD.TYPE_BYTES:
        size = _ID_FIELDS.get(field.name)
        if size is not None and owner in _OPTIONAL_ID_MESSAGES:
            return lambda v: _varint(len(b := _optional_hex_id(v, size))) + b
        if size is not None:
            what = field.name.replace("_", " ")
            return lambda v: _varint(len(b := _hex_id(v, size, what))) + b
        return lambda v: _varint(len(b := _b64(v))) + b
    if t == _FD.TYPE_FIXED64:
        return lambda v: _pack_Q(_int(v, 0, _U64, "an unsigned 64-bit integer"))
    if t == _FD.TYPE_SFIXED64:
        return lambda v: _pack_q(_int(v, _I64_MIN, _I64_MAX, "a 64-bit integer"))
    if t == _FD.TYPE_FIXED32:
        return lambda v: _pack_I(_int(v, 0, 0xFFFFFFFF, "an unsigned 32-bit integer"))
    if t == _FD.TYPE_SFIXED32:
        return lambda v: _pack_i(_int(v, -(1 << 31), (1 << 31) - 1, "a 32-bit integer"))
    if t == _FD.TYPE_DOUBLE:
        return lambda v: _pack_d(_double(v))
    if t == _FD.TYPE_FLOAT:
        return lambda v: _pack_f(_double(v))
    if t == _FD.TYPE_BOOL:
        def enc_bool(v: Any) -> bytes:
            if type(v) is not bool:
                raise _Err(f"expected true or false, got {_describe(v)}")
            return b"\x01" if v else b"\x00"
        return enc_bool
    if t in (_FD.TYPE_UINT32,):
        return lambda v: _varint(_int(v, 0, 0xFFFFFFFF, "an unsigned 32-bit integer"))
    if t == _FD.TYPE_UINT64:
        return lambda v: _varint(_int(v, 0, _U64, "an unsigned 64-bit integer"))
    if t == _FD.TYPE_INT32:
        return lambda v: _varint(_int(v, -(1 << 31), (1 << 31) - 1, "a 32-bit integer") & _U64)
    if t == _FD.TYPE_INT64:
        return lambda v: _varint(_int(v, _I64_MIN, _I64_MAX, "a 64-bit integer") & _U64)
    if t == _FD.TYPE_SINT32:
        def enc_sint(v: Any) -> bytes:
            n = _int(v, -(1 << 31), (1 << 31) - 1, "a 32-bit integer")
            return _varint((n << 1) ^ (n >> 31))
        return enc_sint
    if t == _FD.TYPE_SINT64:
        def enc_sint64(v: Any) -> bytes:
            n = _int(v, _I64_MIN, _I64_MAX, "a 64-bit integer")
            return _varint(((n << 1) ^ (n >> 63)) & _U64)
        return enc_sint64
    if t == _FD.TYPE_ENUM:
        assert field.enum_type is not None  # an enum field has its enum type
        names = {v.name: v.number for v in field.enum_type.values}

        def enc_enum(v: Any) -> bytes:
            if type(v) is str and v in names:  # tolerated; the spec wants integers
                return _varint(names[v] & _U64)
            return _varint(_int(v, -(1 << 31), (1 << 31) - 1, "an enum integer") & _U64)
        return enc_enum
    raise TypeError(f"unsupported field type {t} ({field.full_name})")


class _MessageCodec:
    """Decoder of one message type: JSON key -> handler(value) -> wire bytes."""

    __slots__ = ("handlers", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.handlers: dict[str, Handler] = {}

    def encode(self, obj: Any) -> bytes:
        if type(obj) is not dict:
            raise _Err(f"expected an object, got {_describe(obj)}")
        handlers = self.handlers
        out: list[bytes] = []
        key = ""
        try:
            for key, value in obj.items():
                if value is None:
                    continue
                h = handlers.get(key)
                if h is not None:
                    out.append(h(value))
        except _Err as e:
            e.path.append(key)
            raise
        return b"".join(out)


_CODECS: dict[str, _MessageCodec] = {}


def _codec(desc: Descriptor) -> _MessageCodec:
    codec = _CODECS.get(desc.full_name)
    if codec is not None:
        return codec
    codec = _MessageCodec(desc.full_name)
    _CODECS[desc.full_name] = codec  # before the fields: messages may be recursive
    for field in desc.fields:
        handler = _field_handler(field, desc.full_name)
        codec.handlers[field.json_name] = handler
        codec.handlers[field.name] = handler
    return codec


def _field_handler(field: FieldDescriptor, owner: str) -> Handler:
    number = field.number
    repeated = field.is_repeated
    if field.type == _FD.TYPE_MESSAGE:
        assert field.message_type is not None  # a message field has its message type
        sub = field.message_type.full_name
        tag = _tag(number, 2)
        if sub == "opentelemetry.proto.common.v1.KeyValue" and repeated:
            return lambda v: _key_values(tag, v)
        if sub == "opentelemetry.proto.common.v1.AnyValue" and not repeated:
            return lambda v: _ld(tag, _any_value(v))
        codec = _codec(field.message_type)
        if not repeated:
            return lambda v: _ld(tag, codec.encode(v))

        def repeated_message(v: Any) -> bytes:
            if type(v) is not list:
                raise _Err(f"expected an array, got {_describe(v)}")
            out: list[bytes] = []
            append = out.append
            encode = codec.encode
            i = 0
            try:
                for i, item in enumerate(v):  # noqa: B007 - i is read in the except clause
                    body = encode(item)
                    n = len(body)
                    append(tag + (_SMALL[n] if n < 128 else _varint(n)) + body)
            except _Err as e:
                e.path.append(f"[{i}]")
                raise
            return b"".join(out)
        return repeated_message

    enc = _scalar_encoder(field, owner)
    wire_type = _WIRE_TYPES.get(field.type, 0)
    if not repeated:
        tag = _tag(number, wire_type)
        fast = _fast_handler(field, owner, tag, enc)
        if fast is not None:
            return fast
        return lambda v: tag + enc(v)
    if wire_type == 2:  # repeated string/bytes: one field per item
        tag = _tag(number, 2)

        def repeated_ld(v: Any) -> bytes:
            if type(v) is not list:
                raise _Err(f"expected an array, got {_describe(v)}")
            return b"".join(tag + _checked(enc, item, i) for i, item in enumerate(v))
        return repeated_ld
    tag = _tag(number, 2)  # repeated numbers: packed

    def packed(v: Any) -> bytes:
        if type(v) is not list:
            raise _Err(f"expected an array, got {_describe(v)}")
        body = b"".join(_checked(enc, item, i) for i, item in enumerate(v))
        return _ld(tag, body)
    return packed


def _fast_handler(field: FieldDescriptor, owner: str, tag: bytes,
                  enc: Callable[[Any], bytes]) -> Handler | None:
    """One-call handlers for the field types every span and log record has.

    The common shape is handled inline; anything else falls back to ``enc``,
    which validates and produces the error message.
    """
    t = field.type
    if t == _FD.TYPE_STRING:
        def string(v: Any) -> bytes:
            if type(v) is str:
                b = v.encode()
                n = len(b)
                return tag + (_SMALL[n] if n < 128 else _varint(n)) + b
            return tag + enc(v)
        return string
    if t == _FD.TYPE_FIXED64:
        def fixed64(v: Any) -> bytes:
            if type(v) is str and v.isdigit():
                n = int(v)
                if n <= _U64:
                    return tag + _pack_Q(n)
            return tag + enc(v)
        return fixed64
    if t == _FD.TYPE_BYTES and field.name in _ID_FIELDS and owner not in _OPTIONAL_ID_MESSAGES:
        size = _ID_FIELDS[field.name]
        prefix = tag + _SMALL[size]

        def hex_id(v: Any) -> bytes:
            if type(v) is str and len(v) == 2 * size:
                try:
                    return prefix + bytes.fromhex(v)
                except ValueError:
                    pass
            return tag + enc(v)
        return hex_id
    if t in (_FD.TYPE_ENUM, _FD.TYPE_UINT32):
        def small_int(v: Any) -> bytes:
            if type(v) is int and 0 <= v < 128:
                return tag + _SMALL[v]
            return tag + enc(v)
        return small_int
    return None


def _checked(enc: Callable[[Any], bytes], item: Any, i: int) -> bytes:
    if item is None:
        e = _Err("null is not allowed in an array")
        e.path.append(f"[{i}]")
        raise e
    try:
        return enc(item)
    except _Err as e:
        e.path.append(f"[{i}]")
        raise


_REQUEST_CODECS = {signal: _codec(cls.DESCRIPTOR) for signal, cls in REQUEST_TYPES.items()}


# --------------------------------------------------------------------------- public: decode

def decode_wire(signal: Signal, data: bytes | bytearray | memoryview | str) -> bytes:
    """OTLP/JSON bytes -> serialized Export*ServiceRequest (protobuf wire bytes).

    Raises ``OtlpJsonError`` (a ValueError) naming the offending field.
    """
    # A 512-span request becomes ~20k dicts and lists, which trigger the cyclic
    # GC again and again while they are alive (it made the receiver ~35% slower).
    # They cannot form cycles and are freed by reference counting, so the GC is
    # paused for the decode (and resumed only if it was on).
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise OtlpJsonError(f"invalid JSON: {exc}") from None
        return wire_from_dict(signal, obj)
    finally:
        if paused:
            gc.enable()


def wire_from_dict(signal: Signal, obj: Any) -> bytes:
    """An OTLP/JSON document already parsed into dicts -> protobuf wire bytes."""
    if type(obj) is not dict:
        raise OtlpJsonError(f"expected a JSON object at the top level, got {_describe(obj)}")
    try:
        return _REQUEST_CODECS[signal].encode(obj)
    except _Err as e:
        raise OtlpJsonError(e.render()) from None
    except RecursionError:
        raise OtlpJsonError("values are nested too deeply") from None
    except (UnicodeError, OverflowError, struct.error) as exc:  # defensive: name the cause
        raise OtlpJsonError(f"invalid value: {exc}") from None


def decode(signal: Signal, data: bytes | bytearray | memoryview | str) -> Request:
    """OTLP/JSON bytes -> Export{Trace,Logs,Metrics}ServiceRequest.

    Raises ``OtlpJsonError`` (a ValueError) with a message such as
    ``resourceSpans[0].scopeSpans[0].spans[3].traceId: trace id must be 32 hex digits``.
    """
    wire = decode_wire(signal, data)
    try:
        return REQUEST_TYPES[signal].FromString(wire)
    except Exception as exc:  # upb's DecodeError; should not happen for bytes we built
        raise OtlpJsonError(f"invalid OTLP/JSON: {exc}") from None


# --------------------------------------------------------------------------- public: encode

_ToJson = Callable[[Any], Any]
_FIELD_WRITERS: dict[FieldDescriptor, tuple[str, _ToJson]] = {}


def _double_json(v: float) -> Any:
    if v != v:
        return "NaN"
    if v in (math.inf, -math.inf):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _writer(field: FieldDescriptor) -> tuple[str, _ToJson]:
    cached = _FIELD_WRITERS.get(field)
    if cached is not None:
        return cached
    t = field.type
    conv: _ToJson
    if t == _FD.TYPE_MESSAGE:
        assert field.message_type is not None  # a message field has its message type
        if field.message_type.full_name == "opentelemetry.proto.common.v1.KeyValue":
            conv = _kv_to_json
        elif field.message_type.full_name == "opentelemetry.proto.common.v1.AnyValue":
            conv = _any_to_json
        else:
            conv = to_dict
    elif t == _FD.TYPE_BYTES:
        conv = bytes.hex if field.name in _ID_FIELDS else _b64_text
    elif t in (_FD.TYPE_FIXED64, _FD.TYPE_SFIXED64, _FD.TYPE_INT64, _FD.TYPE_UINT64,
               _FD.TYPE_SINT64):
        conv = str
    elif t in (_FD.TYPE_DOUBLE, _FD.TYPE_FLOAT):
        conv = _double_json
    else:  # strings, bools, 32-bit ints, enums (as integers)
        conv = _identity
    if field.is_repeated:
        item = conv
        conv = (lambda v: [item(x) for x in v]) if item is not _identity else list
    result = (field.json_name, conv)
    _FIELD_WRITERS[field] = result
    return result


def _identity(v: Any) -> Any:
    return v


def _b64_text(v: bytes) -> str:
    return base64.b64encode(v).decode("ascii")


def _any_to_json(v: Any) -> dict[str, Any]:
    which = v.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": v.string_value}
    if which is None:
        return {}
    if which == "int_value":
        return {"intValue": str(v.int_value)}
    if which == "bool_value":
        return {"boolValue": v.bool_value}
    if which == "double_value":
        return {"doubleValue": _double_json(v.double_value)}
    if which == "array_value":
        return {"arrayValue": {"values": [_any_to_json(x) for x in v.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": [_kv_to_json(x) for x in v.kvlist_value.values]}}
    if which == "bytes_value":
        return {"bytesValue": _b64_text(v.bytes_value)}
    return to_dict(v)


def _kv_to_json(kv: Any) -> dict[str, Any]:
    return {"key": kv.key, "value": _any_to_json(kv.value)}


def to_dict(message: Any) -> dict[str, Any]:
    """A protobuf message as an OTLP/JSON dict (hex ids, int64 as strings, enums as ints)."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        name, conv = _writer(field)
        out[name] = conv(value)
    return out


def encode_message(message: Any) -> bytes:
    """Any OTLP message (request or response) -> OTLP/JSON bytes."""
    paused = gc.isenabled()  # as in decode_wire: many short-lived, acyclic containers
    if paused:
        gc.disable()
    try:
        return orjson.dumps(to_dict(message))
    finally:
        if paused:
            gc.enable()


def encode(signal: Signal, message: Request) -> bytes:
    """An Export*ServiceRequest -> OTLP/JSON bytes."""
    if not isinstance(message, REQUEST_TYPES[signal]):
        raise TypeError(f"expected {REQUEST_TYPES[signal].__name__} for {signal.value}, "
                        f"got {type(message).__name__}")
    return encode_message(message)
