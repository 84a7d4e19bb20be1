"""Counting tool calls exactly once into the mcp_hangar_* series: the core that the
prometheus exporter serves on /metrics and the mcp_metrics connector pushes as OTLP metrics.

Counting is exactly once per record (docs/durability.md): every call is counted under its
record id (``mcp.ids.record_id``) and a record seen again is not counted again. With
``sending_queue.storage`` the calls to count are queued on disk first, and the counters
are saved with every checkpoint together with the queue position, so after a crash or a
restart they continue from their last value and what was queued is counted once.

Cardinality (docs/identity-and-cost.md, "Cardinality"): label values are cut to
``max_label_value_length``, each family keeps ``max_series`` series by recency (the
evicted ones folded into ``__other__``), and a series not updated for
``metric_expiration`` goes away, from what is served and from the saved counters alike.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import orjson

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.exporterhelper import ExporterHelper
from hangar_otelcol.exporterhelper.seen import SeenWindow, short_id
from hangar_otelcol.exporters.prometheus.config import CallCountingConfig
from hangar_otelcol.exporters.prometheus.metrics import (
    Fact,
    ToolMetrics,
    clip_fact,
    fact_of,
    too_long,
)
from hangar_otelcol.ledger import Ledger, ledger_from
from hangar_otelcol.ledger.counting import counted
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.mcp.ids import record_id
from hangar_otelcol.mcp.numbers import MAX_DURATION_MS, cost_in_range
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.tasks import cancel_and_wait

#: state key of the saved counters
COUNTERS = "counters"


class CountWork:
    """The calls of one batch to count, each with its short record id."""

    __slots__ = ("facts", "ids", "item_count", "signal")

    def __init__(self, facts: list[Fact], ids: list[int], signal: Signal) -> None:
        self.facts = facts
        self.ids = ids
        self.signal = signal
        self.item_count = len(facts)


class CallCounter(ExporterHelper):
    """An exporter helper whose ``send`` counts calls into ``self.metrics`` (ToolMetrics).
    Its self-metrics are named ``otelcol_<kind>_<type>_...`` after the component."""

    checkpoint_interval = 1.0

    def __init__(self, settings: CreateSettings, config: CallCountingConfig) -> None:
        super().__init__(settings, config)
        self._counting = config
        self._seen = SeenWindow(float(config.dedupe.window), config.dedupe.max_records)
        self._dirty = False
        self._expired: dict[str, bytes | None] = {}
        self._keys = config.invocations
        self._label_limit = config.max_label_value_length
        self.metrics = ToolMetrics(config.max_series, config.per_caller, config.caller_limit)
        self._ledger: Ledger | None = None
        for known in config.known_tools:
            self.metrics.preinit(known.mcp_server, known.tool, known.cost_model)
        self._expiration = float(config.metric_expiration)
        self._sweeper: asyncio.Task[None] | None = None
        prefix = f"otelcol_{settings.kind.value}_{settings.id.type}"
        self._counted = self.telemetry.counter(
            f"{prefix}_invocations_total",
            f"Tool invocations seen by the {settings.id.type} {settings.kind.value}, by "
            "outcome (counted; repeat: a record with the same record id was counted "
            "already)", ("outcome",))
        self._truncated = self.telemetry.counter(
            f"{prefix}_truncated_labels_total",
            "Label values cut to max_label_value_length, by label", ("label",))
        self._dropped = self.telemetry.counter(
            f"{prefix}_series_removed_total",
            "Series removed: evicted (max_series reached; the value is added to the "
            "__other__ series) or expired (not updated for metric_expiration)", ("reason",))
        self._reported = [0, 0]  # evicted, expired already counted in _dropped
        self.telemetry.gauge(
            f"{prefix}_series", "Series counted (histograms count one per label set)",
            self.metrics.series_count)

    async def open(self, host: Host) -> None:
        if self._counting.count_spans:
            self._ledger = ledger_from(host, self._counting.ledger)
        if self._expiration:
            self._sweeper = asyncio.create_task(self._sweep_every(),
                                                name=f"{self.settings.id}-expire")

    async def close(self) -> None:
        await cancel_and_wait(self._sweeper)
        self._sweeper = None

    def expire(self) -> None:
        """Remove the series not updated for ``metric_expiration``."""
        if self._expiration:
            now = time.monotonic()
            if self.metrics.expire(now - self._expiration):
                self._dirty = True  # saved without them at the next checkpoint
        self._report_removed()

    def _report_removed(self) -> None:
        stats = self.metrics.stats
        evicted, expired = stats.evicted - self._reported[0], stats.expired - self._reported[1]
        if evicted:
            self._dropped.inc("evicted", amount=evicted)
        if expired:
            self._dropped.inc("expired", amount=expired)
        self._reported = [stats.evicted, stats.expired]

    async def _sweep_every(self) -> None:
        interval = min(max(self._expiration / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(interval)
            self.expire()

    def _clip(self, fact: Fact) -> Fact:
        fact, cut = clip_fact(fact, self._label_limit)
        for label in cut:
            self._truncated.inc(label)
        return fact

    async def to_work(self, batch: Batch) -> CountWork | None:
        if batch.signal == Signal.METRICS:
            return None  # OTLP metrics are not re-exposed (hangar sends none)
        facts: list[Fact] = []
        ids: list[int] = []
        keys, limit = self._keys, self._label_limit
        for part in batch.parts:
            invs = index(part, keys)
            if not invs:
                continue
            for inv in await counted(invs, self._ledger):
                if inv.event == TOOL_EVENT:
                    try:
                        fact = _checked_fact(fact_of(inv))
                        if too_long(fact, limit):
                            fact = self._clip(fact)
                        rid = short_id(record_id(inv))
                    except Exception as exc:  # one bad record never fails the others
                        self._bad_record("unreadable", exc)
                        continue
                    facts.append(fact)
                    ids.append(rid)
        return CountWork(facts, ids, batch.signal) if facts else None

    def _bad_record(self, reason: str, exc: BaseException) -> None:
        self.telemetry.bad_records(reason)
        self._counted.inc("bad_record")
        self.problems.warn("bad_record", "%s: a tool call left out of the counters (%s): %r",
                           self.settings.id, reason, exc, detail=type(exc).__name__)

    def _record(self, fact: Fact) -> bool:
        """Count one call; False (counted as a bad record) if that failed."""
        try:
            self.metrics.record(fact)
        except Exception as exc:
            self._bad_record("count_failed", exc)
            return False
        return True

    async def send(self, work: CountWork) -> None:
        seen, record = self._seen, self._record
        self.metrics.clock.now = time.monotonic()
        fresh = [rid for rid in work.ids if rid not in seen]
        failed = 0
        if len(fresh) == len(work.ids):
            for fact in work.facts:
                if not record(fact):
                    failed += 1
        else:  # some were counted already: a retry, or a replay after a restart
            known = set(work.ids) - set(fresh)
            for rid, fact in zip(work.ids, work.facts, strict=True):
                if rid not in known:
                    if not record(fact):
                        failed += 1
                    known.add(rid)  # the same record twice within one batch counts once
            repeats = len(work.ids) - len(fresh)
            self._counted.inc("repeat", amount=repeats)
        seen.add(fresh)
        self._counted.inc("counted", amount=len(fresh) - failed)
        self._dirty = True
        if self.metrics.stats.evicted != self._reported[0]:
            self._report_removed()

    def encode_work(self, work: CountWork) -> bytes:
        try:
            return orjson.dumps({"s": work.signal.value, "f": work.facts, "i": work.ids})
        except (TypeError, ValueError) as first:  # a value orjson cannot write: find it
            kept_facts, kept_ids = [], []
            for fact, rid in zip(work.facts, work.ids, strict=True):
                try:
                    orjson.dumps(fact)
                except (TypeError, ValueError) as exc:
                    self._bad_record("unencodable", exc)
                    continue
                kept_facts.append(fact)
                kept_ids.append(rid)
            if len(kept_facts) == len(work.facts):
                raise first
            work.facts, work.ids, work.item_count = kept_facts, kept_ids, len(kept_facts)
            return orjson.dumps({"s": work.signal.value, "f": work.facts, "i": work.ids})

    def decode_work(self, data: bytes) -> CountWork:
        raw = orjson.loads(data)
        return CountWork([tuple(f) for f in raw["f"]], raw["i"], Signal(raw["s"]))

    async def restore_state(self, state: dict[str, bytes]) -> None:
        if COUNTERS in state:
            self.metrics.clock.now = time.monotonic()  # a full metric_expiration from now
            self.metrics.restore(state[COUNTERS])
        self._expired = self._seen.restore(state)

    def checkpoint_state(self) -> dict[str, bytes | None]:
        out: dict[str, Any] = self._seen.checkpoint()
        if self._expired:
            out.update(self._expired)
            self._expired = {}
        if self._dirty:
            out[COUNTERS] = self.metrics.snapshot()
            self._dirty = False
        return out


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def _checked_fact(fact: Fact) -> Fact:
    """``fact`` with the numbers a counter may add (the reader bounds them already,
    ``mcp.numbers``; this keeps a view made elsewhere from breaking the counters): a
    duration or cost that is negative, not finite or out of range is left out."""
    duration, cents = fact[3], fact[5]
    bad_duration = duration is not None and not (
        _finite(duration) and 0 <= duration <= MAX_DURATION_MS)
    bad_cents = cents is not None and not (
        isinstance(cents, int) and not isinstance(cents, bool) and cost_in_range(cents))
    if not (bad_duration or bad_cents):
        return fact
    return (fact[0], fact[1], fact[2], None if bad_duration else duration, fact[4],
            None if bad_cents else cents, fact[6], fact[7], fact[8])
