"""Helpers shared by the formatters: numbers, timestamps, truncation.

Timestamps are formatted from the record's own ``time_unix_nano``. The
date-and-seconds part only changes once per second, so each formatter keeps a
one-entry cache of it (bench/README.md, per-operation costs) and only appends the fraction.
"""

from __future__ import annotations

import time

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
