"""Pricing rules: hangar's DefaultCostAttributor semantics, with exact arithmetic.

Unit: integer hundredths of a cent (1 unit = 0.0001 of the currency's major unit).
Matching (docs/identity-and-cost.md, "Cost"): only the literal ``*`` is a wildcard; score 2 for an
exact server plus 1 for an exact tool; the highest score wins and the earlier rule wins a
tie. Formulas per model (everything else a rule sets is refused at load time):

    fixed      trunc(fixed)
    token      trunc(in_tok * in_rate + out_tok * out_rate)
    duration   trunc(duration_ms * ms_rate)
    composite  trunc(all of the above summed)

Rates are kept as exact fractions of what the user wrote (``0.003`` is 3/1000, not the
nearest binary float), and a duration is the exact value of the double on the record, so
``trunc`` never loses a unit to float rounding (hangar sums floats; for its worked
examples both give the same numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from hangar_otelcol.config.types import excerpt

MODELS = ("token", "duration", "fixed", "composite")
UNITS_PER_MAJOR = 10_000  # hundredths of a cent per dollar (or euro, ...)

# key -> (component, factor from "major units per thing" to "units per rule quantity")
# components: "in" (per input token), "out" (per output token), "ms" (per millisecond),
# "fixed" (per call)
NATIVE_KEYS: dict[str, str] = {
    "cost_per_input_token_cents": "in",
    "cost_per_output_token_cents": "out",
    "cost_per_ms_cents": "ms",
    "fixed_cost_cents": "fixed",
}
_MAJOR_UNITS: dict[str, tuple[str, Fraction]] = {
    "per_input_token": ("in", Fraction(1)),
    "per_1k_input_tokens": ("in", Fraction(1, 1000)),
    "per_1m_input_tokens": ("in", Fraction(1, 1_000_000)),
    "per_output_token": ("out", Fraction(1)),
    "per_1k_output_tokens": ("out", Fraction(1, 1000)),
    "per_1m_output_tokens": ("out", Fraction(1, 1_000_000)),
    "per_ms": ("ms", Fraction(1)),
    "per_second": ("ms", Fraction(1, 1000)),
    "per_minute": ("ms", Fraction(1, 60_000)),
    "per_hour": ("ms", Fraction(1, 3_600_000)),
    "per_call": ("fixed", Fraction(1)),
}
#: ``usd_per_minute`` etc. (USD only) and ``price_per_minute`` etc. (the rule's currency)
UNIT_KEYS: dict[str, tuple[str, Fraction]] = {}
for _name, (_comp, _factor) in _MAJOR_UNITS.items():
    UNIT_KEYS[f"usd_{_name}"] = (_comp, _factor * UNITS_PER_MAJOR)
    UNIT_KEYS[f"price_{_name}"] = (_comp, _factor * UNITS_PER_MAJOR)

RULE_KEYS = ("mcp_server_id", "tool_name", "model", "currency", *NATIVE_KEYS, *UNIT_KEYS)
_MODEL_USES = {"token": {"in", "out"}, "duration": {"ms"}, "fixed": {"fixed"},
               "composite": {"in", "out", "ms", "fixed"}}


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    server: str
    tool: str
    model: str
    currency: str
    # exact rates as integer numerators over one common denominator
    denominator: int
    in_rate: int
    out_rate: int
    ms_rate: int
    fixed: int

    @property
    def score(self) -> int:
        return (2 if self.server != "*" else 0) + (1 if self.tool != "*" else 0)

    def cost(self, input_tokens: int, output_tokens: int, duration_ms: float | None) -> int:
        """Hundredths of a cent, truncated toward zero."""
        d = self.denominator
        numerator = self.fixed + input_tokens * self.in_rate + output_tokens * self.out_rate
        if self.ms_rate and duration_ms:
            if not math.isfinite(duration_ms):
                duration_ms = 0.0
            p, q = duration_ms.as_integer_ratio()  # exact value of the double
            numerator = numerator * q + p * self.ms_rate
            d *= q
        # int() truncation toward zero, as hangar's int(float)
        return numerator // d if numerator >= 0 else -((-numerator) // d)


def is_currency(value: Any) -> bool:
    """An ISO 4217 code as written in configs: three upper-case letters (USD, EUR)."""
    return isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper()


class RuleError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


#: the largest price a rule may give, in the unit it is written in (USD per call, cents per
#: token, ...): a larger number is a typo, and ``1e3000000`` would be a 3-million-digit rate
MAX_PRICE = 10**9
#: the most significant digits, and the smallest digit (1e-30), a price may be written with
MAX_PRICE_DIGITS = 30
MIN_PRICE_EXPONENT = -30
_RANGE = "must be a finite number between 0 and 1e9"


def _exact(value: Any) -> Fraction:
    """The number the user wrote, exactly: YAML floats go through their shortest repr.
    Refuses non-finite, negative and absurd numbers (``MAX_PRICE``, ``MAX_PRICE_DIGITS``)
    before building a Fraction of them."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative, got {excerpt(value)}")
        if value > MAX_PRICE:
            raise ValueError(f"{_RANGE}, got {excerpt(value)}")
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value) or value > MAX_PRICE:
            raise ValueError(f"{_RANGE}, got {excerpt(value)}")
        if value < 0:
            raise ValueError(f"must not be negative, got {excerpt(value)}")
        dec = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            dec = Decimal(value.strip()[:200] if len(value) > 200 else value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got {excerpt(value)}") from None
        if len(value.strip()) > 200 or not dec.is_finite():
            raise ValueError(f"{_RANGE}, got {excerpt(value)}")
    else:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    # compare by exponent first: Decimal("1e3000000") must never become an integer
    if dec != 0 and (dec.adjusted() > 9 or abs(dec) > MAX_PRICE):
        raise ValueError(f"{_RANGE}, got {excerpt(value)}")
    _, digits, exponent = dec.as_tuple()
    assert isinstance(exponent, int)
    if dec != 0 and (len(digits) > MAX_PRICE_DIGITS or exponent < MIN_PRICE_EXPONENT):
        raise ValueError(f"at most {MAX_PRICE_DIGITS} significant digits and none below "
                         f"1e{MIN_PRICE_EXPONENT}, got {excerpt(value)}")
    if dec < 0:
        raise ValueError(f"must not be negative, got {excerpt(value)}")
    return Fraction(dec)


def compile_rules(raw_rules: Any, default_currency: str = "USD", where: str = "rules"
                  ) -> list[Rule]:
    """Validate and compile rules; raises RuleError with every ``where[i].key: message``."""
    if raw_rules is None:
        return []
    if not isinstance(raw_rules, list):
        raise RuleError([f"{where}: expected a list of rules, got {type(raw_rules).__name__}"])
    errors: list[str] = []
    rules = []
    for i, raw in enumerate(raw_rules):
        path = f"{where}[{i}]"
        if not isinstance(raw, dict):
            errors.append(f"{path}: expected a mapping, got {type(raw).__name__}")
            continue
        rule = _compile_one(i, raw, default_currency, path, errors)
        if rule is not None:
            rules.append(rule)
    if errors:
        raise RuleError(errors)
    return rules


def _compile_one(i: int, raw: dict[str, Any], default_currency: str, path: str,
                 errors: list[str]) -> Rule | None:
    before = len(errors)
    for key in raw:
        if key not in RULE_KEYS:
            errors.append(f"{path}.{excerpt(str(key), quote=False)}: unknown key "
                          f"(known keys: {', '.join(RULE_KEYS)})")
    names = {}
    for key in ("mcp_server_id", "tool_name"):
        value = raw.get(key, "*")
        if not isinstance(value, str) or not value:
            errors.append(f"{path}.{key}: expected a non-empty string (or \"*\"), "
                          f"got {excerpt(value)}")
            value = "*"
        names[key] = value
    currency = raw.get("currency", default_currency)
    if not is_currency(currency):
        errors.append(f"{path}.currency: expected an ISO 4217 code such as USD, "
                      f"got {excerpt(currency)}")
        currency = default_currency
    rates: dict[str, Fraction] = {}
    source: dict[str, str] = {}
    for key, value in raw.items():
        if key in NATIVE_KEYS:
            comp, factor = NATIVE_KEYS[key], Fraction(1)
        elif key in UNIT_KEYS:
            comp, factor = UNIT_KEYS[key]
            if key.startswith("usd_") and currency != "USD":
                errors.append(f"{path}.{key}: the rule's currency is {currency}; use "
                              f"price_{key[4:]} for prices in {currency}")
                continue
        else:
            continue
        try:
            amount = _exact(value)
        except ValueError as exc:
            errors.append(f"{path}.{key}: {exc}")
            continue
        if amount < 0:
            errors.append(f"{path}.{key}: must not be negative, got {excerpt(value)}")
            continue
        if comp in source:
            errors.append(f"{path}.{key}: conflicts with {source[comp]} (both set the same rate)")
            continue
        source[comp] = key
        rates[comp] = amount * factor
    model = raw.get("model")
    given = {c for c, v in rates.items() if v}  # explicit zeros are hangar's defaults
    if model is None:
        # hangar's default is "duration"; infer from what the rule prices instead, so a
        # rule with only usd_per_call does not silently cost 0
        if not given or given == {"ms"}:
            model = "duration"
        elif given <= {"in", "out"}:
            model = "token"
        elif given == {"fixed"}:
            model = "fixed"
        else:
            model = "composite"
    elif model not in MODELS:
        errors.append(f"{path}.model: must be one of {', '.join(MODELS)}; "
                      f"got {excerpt(model)}")
        model = "composite"
    for comp in sorted(given - _MODEL_USES[model]):
        errors.append(f"{path}.{source[comp]}: not used by model {model} "
                      f"(use model composite to combine prices)")
    if len(errors) > before:
        return None
    denominator = math.lcm(*(r.denominator for r in rates.values())) if rates else 1
    num = {c: int(r * denominator) for c, r in rates.items()}
    return Rule(index=i, server=names["mcp_server_id"], tool=names["tool_name"], model=model,
                currency=currency, denominator=denominator, in_rate=num.get("in", 0),
                out_rate=num.get("out", 0), ms_rate=num.get("ms", 0),
                fixed=num.get("fixed", 0))


class RuleSet:
    """Compiled rules plus a per-(server, tool) lookup cache. Immutable once built:
    a reload builds a new RuleSet and swaps one reference (atomic for readers)."""

    __slots__ = ("_cache", "rules", "source")

    def __init__(self, rules: list[Rule], source: str = "") -> None:
        self.rules = rules
        self.source = source
        self._cache: dict[tuple[str, str], Rule | None] = {}

    def match(self, server: str | None, tool: str | None) -> Rule | None:
        key = (server or "", tool or "")
        try:
            return self._cache[key]
        except KeyError:
            pass
        best: Rule | None = None
        for rule in self.rules:
            if rule.server != "*" and rule.server != key[0]:
                continue
            if rule.tool != "*" and rule.tool != key[1]:
                continue
            if best is None or rule.score > best.score:  # strict: the first wins a tie
                best = rule
        if len(self._cache) < 100_000:  # bounded: server x tool is small in practice
            self._cache[key] = best
        return best
