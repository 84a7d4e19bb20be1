"""Processor helpers: ``SignalProcessor``, the base of a processor built straight from the
factory's create arguments, and the invocation processor, one that works on one tool
invocation at a time.

A processor such as ``mcp_caller`` or ``mcp_cost`` implements only ``process(inv,
context) -> outcome`` (and, if it needs I/O per request, ``prepare(part, invocations)``).
The helper walks the batch through the invocation index (``hangar_otelcol.mcp``), counts
the outcomes in ``otelcol_processor_<type>_invocations_total{<label>}``, and hands the
batch on. A record ``process`` raises on is passed on unprocessed (outcome ``failed``,
``otelcol_processor_bad_records_total{reason="process_failed"}``); the others are not
affected.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from hangar_otelcol.component import BaseComponent, Consumer, CreateSettings
from hangar_otelcol.mcp import TOOL_EVENT, InvocationIndex, InvocationKeys, ToolInvocation, index
from hangar_otelcol.pdata import Batch, Part, Signal

C = TypeVar("C")


class SignalProcessor(BaseComponent, Generic[C]):
    """A processor whose class is its factory's create function (``ProcessorCreate``): one
    instance per pipeline, holding its config, the pipeline's signal and what follows it."""

    def __init__(self, settings: CreateSettings, config: C, signal: Signal,
                 next_consumer: Consumer) -> None:
        super().__init__(settings)
        self.config = config
        self.signal = signal
        self.next = next_consumer


class InvocationProcessor(BaseComponent):
    mutates_data = True
    #: events handed to ``process`` (tool calls by default, not state changes)
    events: frozenset[str] = frozenset({TOOL_EVENT})

    def __init__(self, settings: CreateSettings, keys: InvocationKeys, next_consumer: Consumer,
                 *, outcome_label: str = "outcome", outcome_help: str = "") -> None:
        super().__init__(settings)
        self.keys = keys
        self.next = next_consumer
        self.outcomes = settings.telemetry.counter(
            f"otelcol_processor_{settings.id.type}_invocations_total",
            outcome_help or f"Tool invocations seen by {settings.id.type}, by {outcome_label}",
            (outcome_label,))

    # --- to override -----------------------------------------------------------------

    async def prepare(self, part: Part, invocations: InvocationIndex) -> Any:
        """Per-part context for ``process`` (the place for awaiting, e.g. verifying the
        sender's token); called only for parts that hold invocations."""
        return None

    def process(self, inv: ToolInvocation, context: Any) -> str:
        """Do this processor's work on one invocation; return the outcome label."""
        raise NotImplementedError

    def batch_done(self) -> None:
        """Called once per batch after every invocation was processed."""

    # --- the helper ------------------------------------------------------------------

    async def consume(self, batch: Batch) -> None:
        keys = self.keys
        events = self.events
        tally: dict[str, int] = {}
        for part in batch.parts:
            invs = index(part, keys)
            if not invs:
                continue
            context = await self.prepare(part, invs)
            for inv in invs:
                if inv.event not in events:
                    continue
                try:
                    outcome = self.process(inv, context)
                except Exception as exc:  # one bad record never fails the others
                    outcome = "failed"
                    self.telemetry.bad_records("process_failed")
                    self.problems.warn("bad_record", "%s: a record passed on unprocessed: %r",
                                       self.settings.id, exc, detail=type(exc).__name__)
                tally[outcome] = tally.get(outcome, 0) + 1
        for outcome, n in tally.items():
            self.outcomes.inc(outcome, amount=n)
        self.batch_done()
        await self.next.consume(batch)
