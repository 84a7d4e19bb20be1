"""Numbers read from attributes, with bounds: token counts, durations, costs.

Every number the gateway reads from a sender's record goes through one of these
functions (the reader, ``hangar_otelcol.mcp.reader``, for every invocation). Each returns
the value, or an ``Invalid`` saying why not, and never raises: a sender's number can never
make a component fail, a counter go down, or an encoder meet a value it cannot write
(docs/architecture.md, "Bad records").

Accepted: ints, floats, and strings of ASCII digits (``"12"``; durations also ``"3.5"``,
``"1e3"``). Refused: booleans, bytes, non-finite floats, negative values, values above the
bounds below, and strings with anything else in them -- ``"²"`` and ``"١٢"`` are digits to
``str.isdigit`` and ``int()``, but not numbers a sender means.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: token counts: what an OTLP int attribute holds (int64)
MAX_COUNT = 2**63 - 1
#: durations in milliseconds: about 31.7 years
MAX_DURATION_MS = 1e12
#: costs in hundredths of a cent: 10^11 of the major unit (USD 100 billion) per call;
#: far below 2^53, so counters summing them stay exact for a long time, and below 2^63
MAX_COST_CENTS = 10**15
#: longest string looked at (a number longer than this is out of range anyway)
_MAX_TEXT = 64

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_ASCII_SPACE = " \t\r\n\f\v"


#: ``Invalid.kind``: not a number the gateway accepts (a word, "²", negative, NaN, ...)
INVALID_NUMBER = "invalid_number"
#: ``Invalid.kind``: a number, but above the bound (a 400-digit count, 1e30 ms)
OUT_OF_RANGE = "out_of_range"


class Invalid:
    """Why a value is not a number the gateway uses: ``reason`` is a short phrase,
    ``kind`` is ``invalid_number`` or ``out_of_range`` (a metric label)."""

    __slots__ = ("kind", "reason")

    def __init__(self, reason: str, kind: str = INVALID_NUMBER) -> None:
        self.reason = reason
        self.kind = kind

    def __repr__(self) -> str:
        return f"Invalid({self.reason!r}, {self.kind!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Invalid) and (other.reason, other.kind) == \
            (self.reason, self.kind)

    def __hash__(self) -> int:
        return hash((self.reason, self.kind))


def _too_big(what: str) -> Invalid:
    return Invalid(f"out of range (above {what})", OUT_OF_RANGE)


def describe(value: Any) -> str:
    """A short, safe rendering of a raw value for messages (bounded length)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:32]}...({len(text)} chars)"


def _text(value: str) -> str | Invalid:
    text = value.strip(_ASCII_SPACE)
    if not text:
        return Invalid("empty string")
    if len(text) > _MAX_TEXT:
        return Invalid(f"out of range: a {len(text)}-character number", OUT_OF_RANGE)
    return text


def parse_count(value: Any) -> int | Invalid:
    """A token count: 0 <= n <= 2^63 - 1 (a float is truncated toward zero)."""
    return _whole(value, MAX_COUNT, "2^63-1")


def parse_cost_cents(value: Any) -> int | Invalid:
    """A cost in hundredths of a cent: 0 <= n <= MAX_COST_CENTS (a float is truncated)."""
    return _whole(value, MAX_COST_CENTS, "1e15")


def _whole(value: Any, limit: int, limit_text: str) -> int | Invalid:
    try:
        if isinstance(value, bool):
            return Invalid("a boolean, not a number")
        if isinstance(value, int):
            n = value
        elif isinstance(value, float):
            if math.isnan(value):
                return Invalid("not finite: nan")
            if value < 0:
                return Invalid("negative")
            if value > limit:  # also +inf
                return _too_big(limit_text)
            n = int(value)  # 30.9 tokens are 30, as int() (and hangar) read them
        elif isinstance(value, str):
            text = _text(value)
            if isinstance(text, Invalid):
                return text
            negative = text.startswith("-")
            digits = text[1:] if text[:1] in "+-" else text
            if not _DIGITS.fullmatch(digits):
                return Invalid(f"not a number: {describe(value)}")
            n = int(digits)
            if negative and n:
                return Invalid("negative")
        else:
            return Invalid(f"not a number: a {type(value).__name__}")
        if n < 0:
            return Invalid("negative")
        if n > limit:
            return _too_big(limit_text)
        return n
    except Exception as exc:  # never raise: whatever it is, it is not a usable number
        return Invalid(f"unreadable: {type(exc).__name__}")


def parse_duration_ms(value: Any) -> float | Invalid:
    """A duration in milliseconds: finite, 0 <= d <= MAX_DURATION_MS."""
    try:
        if isinstance(value, bool):
            return Invalid("a boolean, not a number")
        if isinstance(value, int):
            d = float(value) if -MAX_COUNT <= value <= MAX_COUNT else math.inf
        elif isinstance(value, float):
            d = value
        elif isinstance(value, str):
            text = _text(value)
            if isinstance(text, Invalid):
                return text
            if not _DECIMAL.fullmatch(text):
                return Invalid(f"not a number: {describe(value)}")
            d = float(text)
        else:
            return Invalid(f"not a number: a {type(value).__name__}")
        if math.isnan(d):
            return Invalid("not finite: nan")
        if d < 0:
            return Invalid("negative")
        if d > MAX_DURATION_MS:
            return _too_big("1e12 ms")
        return d
    except Exception as exc:
        return Invalid(f"unreadable: {type(exc).__name__}")


def cost_in_range(cents: int) -> bool:
    """A computed cost the gateway writes and counts: 0 <= cents <= MAX_COST_CENTS."""
    return 0 <= cents <= MAX_COST_CENTS


__all__ = ["INVALID_NUMBER", "MAX_COST_CENTS", "MAX_COUNT", "MAX_DURATION_MS", "OUT_OF_RANGE",
           "Invalid", "cost_in_range", "describe", "parse_cost_cents", "parse_count",
           "parse_duration_ms"]
