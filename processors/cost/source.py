"""Reading a pricing file (YAML): ``rules: [...]`` and an optional ``currency:``."""

from __future__ import annotations

import os

import yaml

from hangar_otelcol.processors.cost.rules import Rule, RuleError, compile_rules, is_currency


class PricingFileError(ValueError):
    """The file cannot be used; the message names the file and every rule index and key."""


def load_pricing_file(path: str, default_currency: str = "USD") -> list[Rule]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise PricingFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PricingFileError(f"{path}: invalid YAML{where}: {problem}") from None
    if doc is None:
        raise PricingFileError(f"{path}: empty file (expected rules: [...])")
    if isinstance(doc, list):
        doc = {"rules": doc}
    if not isinstance(doc, dict):
        raise PricingFileError(f"{path}: expected a mapping with rules: [...]")
    unknown = sorted(set(map(str, doc)) - {"rules", "currency"})
    if unknown:
        raise PricingFileError(f"{path}: {unknown[0]}: unknown key (known keys: currency, "
                               f"rules)")
    currency = doc.get("currency", default_currency)
    if not is_currency(currency):
        raise PricingFileError(f"{path}: currency: expected an ISO 4217 code such as USD, "
                               f"got {currency!r}")
    if "rules" not in doc:
        raise PricingFileError(f"{path}: rules: required")
    try:
        return compile_rules(doc["rules"], currency)
    except RuleError as exc:
        raise PricingFileError(f"{path}: " + "; ".join(exc.errors)) from None


def file_signature(path: str) -> tuple[int, int, int] | None:
    """(mtime_ns, size, inode): changes when the file is rewritten or replaced."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
