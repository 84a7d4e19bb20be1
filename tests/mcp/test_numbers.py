"""``hangar_otelcol.mcp.numbers``: the one parser of numbers read from attributes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hangar_otelcol.mcp.numbers import (
    INVALID_NUMBER,
    MAX_COST_CENTS,
    MAX_COUNT,
    MAX_DURATION_MS,
    OUT_OF_RANGE,
    Invalid,
    cost_in_range,
    parse_cost_cents,
    parse_count,
    parse_duration_ms,
)

ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                     st.binary(), st.lists(st.integers(), max_size=3))


@pytest.mark.parametrize(("raw", "expected"), [
    (0, 0), (12, 12), (MAX_COUNT, MAX_COUNT), (12.0, 12), (30.9, 30), ("12", 12),
    (" 12\n", 12), ("+12", 12), ("007", 7), ("-0", 0),
])
def test_counts_that_are_numbers(raw: object, expected: int) -> None:
    assert parse_count(raw) == expected


@pytest.mark.parametrize(("raw", "kind"), [
    ("9" * 400, OUT_OF_RANGE), (MAX_COUNT + 1, OUT_OF_RANGE), (2.0**63, OUT_OF_RANGE),
    (math.inf, OUT_OF_RANGE), ("9223372036854775808", OUT_OF_RANGE),
    (-1, INVALID_NUMBER), (-0.5, INVALID_NUMBER), ("-5", INVALID_NUMBER),
    (math.nan, INVALID_NUMBER), (-math.inf, INVALID_NUMBER),
    # digits to str.isdigit / int(), but not ASCII: never a count
    ("²", INVALID_NUMBER), ("١٢", INVALID_NUMBER), ("\uff11\uff12", INVALID_NUMBER),
    ("12\u00a0", INVALID_NUMBER), ("1_000", INVALID_NUMBER), ("12.5", INVALID_NUMBER),
    ("1e3", INVALID_NUMBER), ("", INVALID_NUMBER), ("abc", INVALID_NUMBER),
    (True, INVALID_NUMBER), (b"12", INVALID_NUMBER), (None, INVALID_NUMBER),
    ([1], INVALID_NUMBER),
])
def test_counts_that_are_not(raw: object, kind: str) -> None:
    got = parse_count(raw)
    assert isinstance(got, Invalid) and got.kind == kind, got
    assert len(got.reason) < 80  # a 400-digit value is not copied into messages


@pytest.mark.parametrize(("raw", "expected"), [
    (0, 0.0), (3.75, 3.75), (5, 5.0), ("3.5", 3.5), ("1e3", 1000.0), (".5", 0.5),
    (MAX_DURATION_MS, MAX_DURATION_MS),
])
def test_durations_that_are_numbers(raw: object, expected: float) -> None:
    got = parse_duration_ms(raw)
    assert got == expected and isinstance(got, float)


@pytest.mark.parametrize(("raw", "kind"), [
    (1e30, OUT_OF_RANGE), (math.inf, OUT_OF_RANGE), (10**400, OUT_OF_RANGE),
    ("1e400", OUT_OF_RANGE), (MAX_DURATION_MS * 1.01, OUT_OF_RANGE),
    (-1.0, INVALID_NUMBER), (math.nan, INVALID_NUMBER), ("nan", INVALID_NUMBER),
    ("inf", INVALID_NUMBER), ("²", INVALID_NUMBER), ("\u0663.\u0665", INVALID_NUMBER),
    (False, INVALID_NUMBER),
])
def test_durations_that_are_not(raw: object, kind: str) -> None:
    got = parse_duration_ms(raw)
    assert isinstance(got, Invalid) and got.kind == kind, got


def test_costs() -> None:
    assert parse_cost_cents(25) == 25
    assert parse_cost_cents(MAX_COST_CENTS) == MAX_COST_CENTS
    assert isinstance(parse_cost_cents(MAX_COST_CENTS + 1), Invalid)
    assert isinstance(parse_cost_cents(-1), Invalid)
    assert cost_in_range(0) and cost_in_range(MAX_COST_CENTS)
    assert not cost_in_range(-1) and not cost_in_range(MAX_COST_CENTS + 1)


@given(ANYTHING)
def test_never_raises_and_bounds_hold(value: object) -> None:
    count = parse_count(value)
    assert isinstance(count, Invalid) or (type(count) is int and 0 <= count <= MAX_COUNT)
    cents = parse_cost_cents(value)
    assert isinstance(cents, Invalid) or (type(cents) is int and 0 <= cents <= MAX_COST_CENTS)
    duration = parse_duration_ms(value)
    assert isinstance(duration, Invalid) or (
        type(duration) is float and 0.0 <= duration <= MAX_DURATION_MS)


@given(st.integers(min_value=0, max_value=MAX_COUNT))
def test_every_int64_count_reads_back_as_itself(n: int) -> None:
    assert parse_count(n) == n
    assert parse_count(str(n)) == n


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_a_string_is_a_count_only_if_it_is_ascii_digits(text: str) -> None:
    got = parse_count(text)
    stripped = text.strip(" \t\r\n\f\v")
    digits = stripped[1:] if stripped[:1] in ("+", "-") else stripped
    ascii_digits = bool(digits) and all("0" <= c <= "9" for c in digits)
    if not ascii_digits:
        assert isinstance(got, Invalid)
    elif not isinstance(got, Invalid):
        assert got == int(digits) and not (stripped.startswith("-") and got)


@given(st.floats(min_value=0.0, max_value=MAX_DURATION_MS, allow_nan=False))
def test_every_duration_in_range_is_kept_exactly(d: float) -> None:
    assert parse_duration_ms(d) == d
    assert parse_duration_ms(repr(d)) == d
