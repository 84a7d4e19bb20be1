"""Config of the mcp_cost processor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hangar_otelcol.config.types import Duration, excerpt
from hangar_otelcol.mcp import InvocationKeys
from hangar_otelcol.processors.cost.rules import RuleError, compile_rules, is_currency
from hangar_otelcol.processors.cost.source import PricingFileError, load_pricing_file


@dataclass
class CostConfig:
    #: pricing rules inline (hangar's PricingRule keys plus usd_per_* units; see README)
    rules: list[Any] = field(default_factory=list)
    #: a YAML file with ``rules:`` (and optionally ``currency:``); its rules come after the
    #: inline ones. Reloaded on SIGHUP and when it changes; a bad new file keeps the old rules.
    pricing_file: str = ""
    #: how often to look at the pricing file's mtime/size (0 = only on SIGHUP)
    watch_interval: Duration = Duration(2.0)
    #: ISO 4217 code for rules that set none (hangar always uses USD)
    currency: str = "USD"
    #: hangar prices only successful calls; set true to price errors and denials too
    price_failed_calls: bool = False
    #: mcp.cost.* a sender wrote itself: ``strip`` (removed, then priced by the rules: a
    #: sender cannot set its own bill) or ``keep`` (its own pricing stays)
    sender_cost: str = "strip"
    #: principals (glob patterns over the subject or ``<authenticator>:<subject>``) whose
    #: own mcp.cost.* is kept even when ``sender_cost`` is strip
    trusted_principals: list[str] = field(default_factory=list)
    #: also write mcp.cost.currency (hangar never does; the seed lists it)
    write_currency: bool = True
    invocations: InvocationKeys = field(default_factory=InvocationKeys)

    def validate(self) -> list[str]:
        errors: list[str] = []
        if self.sender_cost not in ("strip", "keep"):
            errors.append(f"sender_cost: must be strip or keep; got {excerpt(self.sender_cost)}")
        c = self.currency
        if not is_currency(c):
            errors.append(f"currency: expected an ISO 4217 code such as USD, got {excerpt(c)}")
            return errors
        try:
            compile_rules(self.rules, c)
        except RuleError as exc:
            errors.extend(exc.errors)
        if self.pricing_file:
            try:
                load_pricing_file(self.pricing_file, c)
            except PricingFileError as exc:
                errors.append(f"pricing_file: {exc}")
        return errors
