"""Reading a pricing file (YAML): ``rules: [...]`` and an optional ``currency:``."""

from __future__ import annotations

import os

import yaml

from hangar_otelcol.config import yamlsafe
from hangar_otelcol.config.types import excerpt
from hangar_otelcol.processors.cost.rules import Rule, RuleError, compile_rules, is_currency


class PricingFileError(ValueError):
    """The file cannot be used; the message names the file and every rule index and key."""


#: the largest pricing file (like configs: hangar_otelcol/config/yamlsafe.py)
MAX_PRICING_BYTES = yamlsafe.MAX_BYTES


def load_pricing_file(path: str, default_currency: str = "USD") -> list[Rule]:
    """The file's rules. Blocking (file I/O, parsing): a running processor calls it off
    the event loop (``asyncio.to_thread``)."""
    try:
        text = yamlsafe.read_text(path, MAX_PRICING_BYTES)
        doc = yamlsafe.load(text, max_bytes=MAX_PRICING_BYTES)
    except OSError as exc:
        raise PricingFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PricingFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except yamlsafe.YamlLimitError as exc:
        raise PricingFileError(yamlsafe.describe(exc, path)) from None
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
        raise PricingFileError(f"{path}: {excerpt(unknown[0], quote=False)}: unknown key "
                               "(known keys: currency, rules)")
    currency = doc.get("currency", default_currency)
    if not is_currency(currency):
        raise PricingFileError(f"{path}: currency: expected an ISO 4217 code such as USD, "
                               f"got {excerpt(currency)}")
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
