"""Helpers shared by the formatters: numbers, timestamps, size caps, line breaks.

Timestamps are formatted from the record's own ``time_unix_nano``. The
date-and-seconds part only changes once per second, so each formatter keeps a
one-entry cache of it (bench/README.md, per-operation costs) and only appends the fraction.
"""

from __future__ import annotations

import dataclasses
import operator
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T", str, bytes)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def number_text(value: float | int) -> str:
    """12.0 -> '12', 3.5 -> '3.5' (the seed writes integral durations without '.0')."""
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def json_number(value: float | int) -> float | int:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


class SecondCache:
    """Caches ``fn(seconds)`` for the most recent whole second."""

    __slots__ = ("_fn", "_sec", "_text")

    def __init__(self, fn: object) -> None:
        self._fn = fn
        self._sec = -1
        self._text = ""

    def get(self, sec: int) -> str:
        if sec != self._sec:
            self._text = self._fn(sec)  # type: ignore[operator]
            self._sec = sec
        return self._text


def _iso_seconds(sec: int) -> str:
    t = time.gmtime(sec)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")


def _leef_seconds(sec: int) -> str:
    t = time.gmtime(sec)
    return (f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")


class IsoTime:
    """RFC 3339 UTC with microseconds, the fraction omitted when zero (as hangar does).

    ``suffix`` is ``+00:00`` (JSON-lines, like Python's isoformat) or ``Z`` (syslog).
    """

    __slots__ = ("_cache", "_suffix")

    def __init__(self, suffix: str) -> None:
        self._cache = SecondCache(_iso_seconds)
        self._suffix = suffix

    def __call__(self, time_unix_nano: int) -> str:
        sec, nanos = divmod(time_unix_nano, 1_000_000_000)
        micros = nanos // 1000  # truncate: never round into the next second
        base = self._cache.get(sec)
        if micros:
            return f"{base}.{micros:06d}{self._suffix}"
        return base + self._suffix


class LeefTime:
    """``MMM dd yyyy HH:mm:ss`` (UTC), optionally with ``.SSS`` and/or `` UTC``."""

    __slots__ = ("_cache", "_millis", "_zone")

    def __init__(self, millis: bool, zone: bool) -> None:
        self._cache = SecondCache(_leef_seconds)
        self._millis = millis
        self._zone = zone

    def __call__(self, time_unix_nano: int) -> str:
        sec, nanos = divmod(time_unix_nano, 1_000_000_000)
        text = self._cache.get(sec)
        if self._millis:
            text = f"{text}.{nanos // 1_000_000:03d}"
        if self._zone:
            text += " UTC"
        return text


def epoch_millis(time_unix_nano: int) -> int:
    return time_unix_nano // 1_000_000


def truncate(value: str, limit: int) -> str:
    """Cut to ``limit`` code points (applied before escaping: docs/compliance-formats.md)."""
    return value if len(value) <= limit else value[:limit]


def fix_surrogates(text: str) -> str:
    """Replace lone UTF-16 surrogates (unencodable as UTF-8) by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return fix_surrogates(text).encode("utf-8")


class Memo:
    """A bounded memo for escaping low-cardinality values (server, tool, status...)."""

    __slots__ = ("_cache", "_fn", "_limit")

    def __init__(self, fn: object, limit: int = 4096) -> None:
        self._fn = fn
        self._cache: dict[str, str] = {}
        self._limit = limit

    def __call__(self, value: str) -> str:
        cache = self._cache
        out = cache.get(value)
        if out is None:
            out = self._fn(value)  # type: ignore[operator]
            if len(value) <= 256:  # long values are unlikely to repeat
                if len(cache) >= self._limit:
                    cache.clear()
                cache[value] = out
        return out


# ----------------------------------------------------------------------------- size limits

#: default cap of one field's value, in UTF-8 bytes before escaping (marker included)
MAX_FIELD_BYTES = 8 * 1024
#: default cap of one line (a record, without its newline), in UTF-8 bytes
MAX_LINE_BYTES = 64 * 1024
#: the record's text fields, in the order the caps look at them; ids, numbers and times are
#: never cut (record_id, trace_id, span_id are fixed-size hex)
TEXT_FIELDS = ("mcp_server_id", "tool_name", "status", "error_type", "from_state",
               "to_state", "caller_type", "caller_id", "caller_roles", "cost_model")
_get_text = operator.attrgetter(*TEXT_FIELDS)
#: a field is never cut below this (the marker alone is ~25 bytes)
_MIN_CUT = 64


def marker(dropped: int) -> str:
    """What ends a cut value: ``…[truncated N bytes]`` (N UTF-8 bytes of the value left out)."""
    return f"\u2026[truncated {dropped} bytes]"


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def clip(value: str, max_bytes: int, max_chars: int = 0) -> tuple[str, int]:
    """``value`` within ``max_bytes`` UTF-8 bytes (and ``max_chars`` code points, when set),
    marker included: (value, 0) when it fits, else (head + marker, bytes left out). Cut at
    a character boundary."""
    n = len(value)
    if n * 4 <= max_bytes and (not max_chars or n <= max_chars):
        return value, 0
    data = value.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes and (not max_chars or n <= max_chars):
        return value, 0
    longest = marker(len(data))  # the marker is never longer than this one
    keep = max(0, max_bytes - len(longest.encode()))
    while keep and keep < len(data) and (data[keep] & 0xC0) == 0x80:
        keep -= 1  # not inside a character
    head = data[:keep].decode("utf-8", "surrogatepass")
    if max_chars and len(head) > max_chars - len(longest):
        head = head[:max(0, max_chars - len(longest))]
        keep = _utf8_len(head)
    dropped = len(data) - keep
    return head + marker(dropped), dropped


class Limits:
    """The size caps of one formatter: every text field within ``max_field`` bytes (and the
    format's own per-key lengths, ``chars``), the line within ``max_line`` bytes. A line
    too long is shortened by cutting its longest fields, never its tail, so the record id
    and the short fields a SIEM keys on stay whole. ``on_truncate`` (if set) is called once
    per record that had something cut (the exporter's self-metric)."""

    __slots__ = ("_chars", "_quick", "_quick_min", "max_field", "max_line", "on_truncate")

    def __init__(self, max_field: int = MAX_FIELD_BYTES, max_line: int = MAX_LINE_BYTES,
                 chars: dict[str, int] | None = None) -> None:
        self.max_field = max_field
        self.max_line = max_line
        self._chars = chars or {}
        # a value at most this long (code points) certainly fits: no encoding needed
        self._quick = tuple(min(max_field // 4, self._chars.get(f) or max_field)
                            for f in TEXT_FIELDS)
        self._quick_min = min(self._quick)
        self.on_truncate: Callable[[], None] | None = None

    def apply(self, r: Any, render: Callable[[Any, tuple[str, ...]], T],
              newline: bool = False) -> T:
        """``render(record, names of the fields cut)`` of ``r`` within the caps (``newline``:
        what ``render`` returns ends with one, which the line cap does not count)."""
        limit = self.max_line + newline
        cut: dict[str, str] | None = None
        values = _get_text(r)
        # the common case in C: no value is long enough to need a look
        if max(map(len, filter(None, values)), default=0) > self._quick_min:
            cut = self._cut_fields(values)
        record = dataclasses.replace(r, **cut) if cut else r
        out = render(record, tuple(cut) if cut else ())
        if len(out) * 4 > limit and _size(out) > limit:
            if cut is None:
                cut = {}
            out = self._shrink(r, cut, render, out, limit)
        if cut and self.on_truncate is not None:
            self.on_truncate()
        return out

    def _cut_fields(self, values: tuple[str | None, ...]) -> dict[str, str] | None:
        cut: dict[str, str] | None = None
        for name, value, quick in zip(TEXT_FIELDS, values, self._quick, strict=True):
            if value is not None and len(value) > quick:
                short, dropped = clip(value, self.max_field, self._chars.get(name, 0))
                if dropped:
                    if cut is None:
                        cut = {}
                    cut[name] = short
        return cut

    def _shrink(self, r: Any, cut: dict[str, str],
                render: Callable[[Any, tuple[str, ...]], T], out: T, limit: int) -> T:
        """Cut the longest fields (of the original record) until the line fits."""
        for _ in range(4 * len(TEXT_FIELDS)):
            excess = _size(out) - limit
            if excess <= 0:
                break
            current = {name: cut.get(name, value)
                       for name, value in zip(TEXT_FIELDS, _get_text(r), strict=True)
                       if value is not None}
            sizes = {name: _utf8_len(v) for name, v in current.items()}
            name = max(sizes, key=lambda k: sizes[k], default=None)
            if name is None or sizes[name] <= _MIN_CUT:
                break  # nothing left to cut: the fixed parts alone are longer than the cap
            target = max(_MIN_CUT, sizes[name] - excess - 8)
            cut[name], _ = clip(getattr(r, name), target, self._chars.get(name, 0))
            out = render(dataclasses.replace(r, **cut), tuple(n for n in TEXT_FIELDS
                                                              if n in cut))
        return out


def _size(out: str | bytes) -> int:
    return len(out) if isinstance(out, bytes) else _utf8_len(out)


# ----------------------------------------------------------------------------- line breaks

#: what ``str.splitlines()`` (and Unicode-aware SIEM parsers) end a line at, besides LF/CR:
#: VT, FF, FS, GS, RS, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR. Every format escapes them
#: with every other C0/C1 control and DEL, so a record is exactly one line.
LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
#: C0 controls, DEL and C1 controls
CONTROLS = (*range(0x20), 0x7F, *range(0x80, 0xA0))
