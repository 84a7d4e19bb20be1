"""The mcp_cost processor: writes mcp.cost.* on every priced tool invocation."""

from __future__ import annotations

import asyncio
import fnmatch
from typing import Any

from hangar_otelcol.component import Consumer, CreateSettings, Host
from hangar_otelcol.mcp import InvocationIndex, ToolInvocation
from hangar_otelcol.mcp.attrs import (
    append_encoded,
    encode_attribute,
    remove_attributes,
    set_attributes,
)
from hangar_otelcol.mcp.keys import (
    COST_CENTS,
    COST_CURRENCY,
    COST_ERROR,
    COST_INPUT_TOKENS,
    COST_MODEL,
    COST_OUTPUT_TOKENS,
)
from hangar_otelcol.mcp.numbers import OUT_OF_RANGE, cost_in_range
from hangar_otelcol.pdata import Part, Signal
from hangar_otelcol.processorhelper import InvocationProcessor
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.rules import Rule, RuleError, RuleSet, compile_rules
from hangar_otelcol.processors.cost.source import (
    PricingFileError,
    file_signature,
    load_pricing_file,
)
from hangar_otelcol.tasks import cancel_and_wait

#: what a sender may have written about its own cost
COST_KEYS = frozenset({COST_CENTS, COST_MODEL, COST_CURRENCY, COST_INPUT_TOKENS,
                       COST_OUTPUT_TOKENS, COST_ERROR})


class CostProcessor(InvocationProcessor):
    def __init__(self, settings: CreateSettings, config: CostConfig, signal: Signal,
                 next_consumer: Consumer) -> None:
        super().__init__(settings, config.invocations, next_consumer,
                         outcome_help="Tool invocations seen by the cost processor, by outcome")
        self._config = config
        self._batch_cents = 0
        self._inline = compile_rules(config.rules, config.currency)
        self._ruleset = RuleSet(list(self._inline), "inline")
        self._file_sig: tuple[int, int, int] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        # (attribute field, model, currency) -> (keys, encoded model [+ currency])
        self._heads: dict[tuple[int, str, str], tuple[tuple[str, ...], bytes]] = {}
        tel = settings.telemetry
        self._reloads = tel.counter(
            "otelcol_processor_mcp_cost_reloads_total",
            "Pricing file (re)loads, by result", ("result",))
        tel.gauge("otelcol_processor_mcp_cost_rules", "Pricing rules in effect",
                  lambda: float(len(self._ruleset.rules)))
        # hundredths of a cent handed out, for a quick sanity check against Prometheus
        self._cents = tel.counter("otelcol_processor_mcp_cost_cents_total",
                                  "Cost written on invocations, hundredths of a cent",
                                  ("currency",))
        self._stripped = tel.counter("otelcol_processor_mcp_cost_stripped_total",
                                     "mcp.cost.* attributes a sender wrote, removed "
                                     "(sender_cost: strip)", ())
        if config.pricing_file:
            # at create time a bad file is a config error (validate() reported it already)
            self._file_sig = file_signature(config.pricing_file)
            self._ruleset = RuleSet(
                [*self._inline, *load_pricing_file(config.pricing_file, config.currency)],
                config.pricing_file)
            self._reloads.inc("loaded")

    @property
    def rules(self) -> list[Rule]:
        return self._ruleset.rules

    async def start(self, host: Host) -> None:
        if self._config.pricing_file and self._config.watch_interval > 0:
            self._watch_task = asyncio.create_task(self._watch(), name=f"{self.settings.id}"
                                                   "-pricing-watch")

    async def shutdown(self) -> None:
        task, self._watch_task = self._watch_task, None
        await cancel_and_wait(task)

    async def reload(self) -> None:
        """SIGHUP: re-read the pricing file; a bad file keeps the rules in effect."""
        await self._reload_file("SIGHUP")

    async def _reload_file(self, why: str) -> bool:
        path = self._config.pricing_file
        if not path:
            return False
        # reading and parsing run off the event loop: a large or hostile file must not
        # stall ingestion (the swap below is one reference assignment on the loop)
        sig, result = await asyncio.to_thread(self._read_pricing, path)
        if isinstance(result, PricingFileError):
            exc = result
            self._file_sig = sig  # do not retry the same bad content every poll
            self._reloads.inc("failed")
            self.problems.error("pricing_reload", "%s: pricing reload (%s) failed, keeping the "
                                "%d rules in effect: %s", self.settings.id, why,
                                len(self.rules), exc, detail=str(exc))
            return False
        self._file_sig = sig
        # one reference swap: a batch in flight keeps the RuleSet it started with
        self._ruleset = RuleSet([*self._inline, *result], path)
        self._reloads.inc("loaded")
        self.logger.info("%s: pricing reloaded (%s): %d rules from %s", self.settings.id, why,
                         len(self.rules), path)
        return True

    def _read_pricing(self, path: str) -> tuple[tuple[int, int, int] | None,
                                                list[Rule] | PricingFileError]:
        sig = file_signature(path)
        try:
            return sig, load_pricing_file(path, self._config.currency)
        except PricingFileError as exc:
            return sig, exc

    async def _watch(self) -> None:
        interval = float(self._config.watch_interval)
        path = self._config.pricing_file
        while True:
            await asyncio.sleep(interval)
            sig = await asyncio.to_thread(file_signature, path)
            if sig is not None and sig != self._file_sig:
                try:
                    await self._reload_file("file changed")
                except Exception as exc:  # the watcher must survive anything
                    self.logger.error("%s: pricing watch: %s", self.settings.id, exc)

    async def prepare(self, part: Part, invocations: InvocationIndex
                      ) -> tuple[RuleSet, bool]:
        """The rule set (one reference read: a part in flight keeps the rule set it started
        with) and whether the sender's own cost stays."""
        keep = self._config.sender_cost == "keep"
        principal = part.sender.principal
        if not keep and principal is not None and self._config.trusted_principals:
            keep = any(fnmatch.fnmatchcase(principal.subject, p)
                       or fnmatch.fnmatchcase(principal.name, p)
                       for p in self._config.trusted_principals)
        return self._ruleset, keep

    def process(self, inv: ToolInvocation, context: tuple[RuleSet, bool]) -> str:
        ruleset, keep_sender_cost = context
        if not keep_sender_cost:
            removed = remove_attributes(inv, COST_KEYS)
            if removed:
                self._stripped.inc(amount=removed)
                inv.cost_cents = inv.cost_model = inv.cost_currency = None
                invalid = inv.invalid
                if invalid:  # a bad number in what was removed no longer matters
                    for name, (key, _, _) in list(invalid.items()):
                        if key in COST_KEYS:
                            del invalid[name]
        outcome, cents = self._price(inv, ruleset)
        self._batch_cents += cents
        return outcome

    def batch_done(self) -> None:
        if self._batch_cents:
            self._cents.inc(self._config.currency, amount=self._batch_cents)
            self._batch_cents = 0

    def _price(self, inv: ToolInvocation, ruleset: RuleSet) -> tuple[str, int]:
        config = self._config
        if inv.wrapper:
            return "wrapper", 0
        if inv.cost_cents is not None:  # the sender's own, kept (sender_cost, trusted)
            return "kept", 0
        if inv.invalid:  # a count, duration or cost the record carries is not usable
            return self._unpriced(inv, *_first_invalid(inv.invalid)), 0
        if not config.price_failed_calls and inv.status not in (None, "success"):
            return "not_priced_failed", 0
        rule = ruleset.match(inv.server, inv.tool)
        if rule is None:
            return "no_rule", 0
        cents = rule.cost(inv.input_tokens, inv.output_tokens, inv.duration_ms)
        if cents == 0:
            return "zero", 0
        if not cost_in_range(cents):
            return self._unpriced(inv, OUT_OF_RANGE, f"the cost of rule {rule.index} "
                                  f"({rule.model}) is above 1e15 hundredths of a cent"), 0
        if not self._append(inv, rule, cents):
            values: dict[str, Any] = {COST_CENTS: cents, COST_MODEL: rule.model}
            if config.write_currency:
                values[COST_CURRENCY] = rule.currency
            if inv.input_tokens > 0:
                values[COST_INPUT_TOKENS] = inv.input_tokens
            if inv.output_tokens > 0:
                values[COST_OUTPUT_TOKENS] = inv.output_tokens
            set_attributes(inv, values)
        inv.cost_cents = cents
        inv.cost_model = rule.model
        inv.cost_currency = rule.currency
        return "priced", cents

    def _unpriced(self, inv: ToolInvocation, kind: str, detail: str) -> str:
        """Not priced because of the record's numbers: say why on the record
        (``mcp.cost.error``; the attribute the number came from stays as sent), count it
        (the ``kind`` outcome) and log it, rate-limited. Returns the outcome."""
        set_attributes(inv, {COST_ERROR: f"{kind}: {detail}"})
        self.problems.warn(kind, "%s: a %s/%s call is not priced: %s (%s)", self.settings.id,
                           inv.server, inv.tool, detail, kind, detail=kind)
        return kind

    def _append(self, inv: ToolInvocation, rule: Rule, cents: int) -> bool:
        """The usual case (no mcp.cost.* on the record yet) with model and currency
        encoded once per rule; what set_attributes would write, in the same order."""
        field_no = inv.attribute_field
        head_key = (field_no, rule.model, rule.currency)
        head = self._heads.get(head_key)
        if head is None:
            if len(self._heads) >= 1024:
                self._heads.clear()
            keys: tuple[str, ...] = (COST_CENTS, COST_MODEL)
            model = encode_attribute(field_no, COST_MODEL, rule.model)
            currency = b""
            if self._config.write_currency:
                keys += (COST_CURRENCY,)
                currency = encode_attribute(field_no, COST_CURRENCY, rule.currency)
            head = self._heads[head_key] = (keys, model + currency)
        keys, model_and_currency = head
        parts = [encode_attribute(field_no, COST_CENTS, cents), model_and_currency]
        if inv.input_tokens > 0:
            keys += (COST_INPUT_TOKENS,)
            parts.append(encode_attribute(field_no, COST_INPUT_TOKENS, inv.input_tokens))
        if inv.output_tokens > 0:
            keys += (COST_OUTPUT_TOKENS,)
            parts.append(encode_attribute(field_no, COST_OUTPUT_TOKENS, inv.output_tokens))
        return append_encoded(inv, keys, b"".join(parts))


def _first_invalid(invalid: dict[str, tuple[str, str, str]]) -> tuple[str, str]:
    """(kind, detail) of the first unusable number of a record."""
    key, reason, kind = next(iter(invalid.values()))
    return kind, f"{key}: {reason}"


def create(settings: CreateSettings, config: CostConfig, signal: Signal,
           next_consumer: Consumer) -> CostProcessor:
    try:
        return CostProcessor(settings, config, signal, next_consumer)
    except (RuleError, PricingFileError) as exc:
        raise ValueError(f"{settings.id}: {exc}") from None
