"""Writing attributes onto the record of a ``ToolInvocation``.

New attributes are appended as pre-encoded wire bytes with one ``MergeFromString`` per
record (about twice as fast as building KeyValue objects; bench/README.md); keys already
on the record are replaced in place. Every writer keeps ``inv.attr_index`` /
``inv.attr_count`` right and drops the part's cached wire bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from hangar_otelcol.mcp.view import LOG_ATTRIBUTES, SPAN_ATTRIBUTES, ToolInvocation
from hangar_otelcol.protowire import length_delimited, varint

AttrValue = str | int | float | bool


def set_attributes(inv: ToolInvocation, values: Mapping[str, AttrValue]) -> None:
    """Set attributes on the record: replace known keys in place, append the rest."""
    part = inv.part_ref()
    if part is not None:  # None: nothing holds the data any more (a test, a leftover)
        part.mutable_message()
    index = inv.attr_index
    field_no = inv.attribute_field
    extra: list[bytes] = []
    attrs = None
    for key, value in values.items():
        pos = index.get(key)
        if pos is not None:
            if attrs is None:
                attrs = inv.record.attributes
            if pos < len(attrs) and attrs[pos].key == key:
                _assign(attrs[pos].value, value)
                continue
        index[key] = inv.attr_count
        inv.attr_count += 1
        extra.append(encode_attribute(field_no, key, value))
    if extra:
        inv.record.MergeFromString(extra[0] if len(extra) == 1 else b"".join(extra))


def set_encoded(inv: ToolInvocation, attrs: EncodedAttributes) -> None:
    """``set_attributes(inv, attrs.values)`` with the wire bytes encoded once for many
    records (the caller processor writes one identity on every call of a request)."""
    if not append_encoded(inv, attrs.keys,
                          attrs.span_bytes if inv.is_span else attrs.log_bytes):
        set_attributes(inv, attrs.values)  # a key is there already: replace in place


def append_encoded(inv: ToolInvocation, keys: tuple[str, ...], encoded: bytes) -> bool:
    """Append ``encoded`` (KeyValues of ``keys`` in the record's attribute field,
    ``inv.attribute_field``); False, changing nothing, if one of the keys is set already."""
    index = inv.attr_index
    for key in keys:
        if key in index:
            return False
    part = inv.part_ref()
    if part is not None:
        part.mutable_message()
    n = inv.attr_count
    for key in keys:
        index[key] = n
        n += 1
    inv.attr_count = n
    inv.record.MergeFromString(encoded)
    return True


def remove_attributes(inv: ToolInvocation, keys: frozenset[str]) -> int:
    """Remove every attribute whose key is in ``keys`` (all of them: a key sent twice is
    removed twice); returns how many. Cheap when none is there: ``keys`` must be
    positional keys (``mcp.keys.POSITIONAL_KEYS``), whose presence the index records."""
    index = inv.attr_index
    if not any(key in index for key in keys):
        return 0
    part = inv.part_ref()
    if part is not None:
        part.mutable_message()
    attrs = inv.record.attributes
    doomed = [i for i, kv in enumerate(attrs) if kv.key in keys]
    for i in reversed(doomed):
        del attrs[i]
    for key in list(index):
        if key in keys:
            del index[key]
        else:  # positions after a removed attribute move down
            pos = index[key]
            index[key] = pos - sum(1 for i in doomed if i < pos)
    inv.attr_count -= len(doomed)
    return len(doomed)


class EncodedAttributes:
    """Attributes to set on many records, encoded once (see ``set_encoded``)."""

    __slots__ = ("keys", "log_bytes", "span_bytes", "values")

    def __init__(self, values: Mapping[str, AttrValue]) -> None:
        self.values = dict(values)
        self.keys = tuple(values)
        self.span_bytes = b"".join(
            encode_attribute(SPAN_ATTRIBUTES, k, v) for k, v in values.items())
        self.log_bytes = b"".join(
            encode_attribute(LOG_ATTRIBUTES, k, v) for k, v in values.items())


def _assign(any_value: Any, value: AttrValue) -> None:
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    else:
        any_value.string_value = value


_ENCODED: dict[tuple[int, str, type, AttrValue], bytes] = {}
# (field_no, key) -> for each varint length n (1..10), the bytes of an int KeyValue up to
# its varint: field tag, KeyValue length, key, AnyValue length and the int_value tag
_INT_PREFIXES: dict[tuple[int, str], list[bytes]] = {}


def encode_attribute(field_no: int, key: str, value: AttrValue) -> bytes:
    """Wire bytes of one KeyValue in field ``field_no`` of a Span/LogRecord.

    Strings, booleans and floats are memoized (caller ids, roles, models repeat);
    integers (token counts, costs) rarely repeat and are written as a per-key prefix plus
    the varint.
    """
    if type(value) is int:
        prefixes = _INT_PREFIXES.get((field_no, key))
        if prefixes is None:
            prefixes = _INT_PREFIXES[(field_no, key)] = _int_prefixes(field_no, key)
        number = varint(value & 0xFFFFFFFFFFFFFFFF)
        return prefixes[len(number)] + number
    memo_key = (field_no, key, type(value), value)
    cached = _ENCODED.get(memo_key)
    if cached is None:
        cached = _encode_attribute(field_no, key, value)
        if len(_ENCODED) >= 65_536:
            _ENCODED.clear()  # bounded; refills with the values in use
        _ENCODED[memo_key] = cached
    return cached


def _int_prefixes(field_no: int, key: str) -> list[bytes]:
    key_part = length_delimited(1, key.encode("utf-8"))
    out = [b""]
    for n in range(1, 11):
        value_part = b"\x12" + varint(1 + n) + b"\x18"
        out.append(varint(field_no << 3 | 2) + varint(len(key_part) + len(value_part) + n)
                   + key_part + value_part)
    return out


def _encode_attribute(field_no: int, key: str, value: AttrValue) -> bytes:
    if isinstance(value, bool):
        any_value = b"\x10" + (b"\x01" if value else b"\x00")
    elif isinstance(value, int):
        any_value = b"\x18" + varint(value & 0xFFFFFFFFFFFFFFFF)
    elif isinstance(value, float):
        any_value = b"\x21" + struct.pack("<d", value)
    else:
        any_value = length_delimited(1, value.encode("utf-8"))
    kv = length_delimited(1, key.encode("utf-8")) + length_delimited(2, any_value)
    return length_delimited(field_no, kv)
