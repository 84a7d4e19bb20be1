"""The pipeline graph, built once from a validated config.

- A receiver is created once and gets one consumer per signal: a fan-out over the
  first node of every pipeline of that signal that lists it.
- Processors are created per pipeline and chained; the last one feeds a fan-out
  over the pipeline's exporters and connectors.
- An exporter is created once, whatever pipelines use it.
- A connector is created once; it is an exporter in the pipelines of its input
  signal and feeds the pipelines that list it as a receiver.
- Data handed to several consumers is copied only for those that mutate it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hangar_otelcol.component import (
    ComponentID,
    Consumer,
    ConsumerError,
    CreateSettings,
    Kind,
)
from hangar_otelcol.config.model import GatewayConfig, ResolvedPipeline
from hangar_otelcol.config.types import ConfigError
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.problems import ProblemLog
from hangar_otelcol.telemetry import ComponentTelemetry, Telemetry


class FanOut:
    """Hands a batch to several consumers, copying only for the mutating ones.

    Read-only consumers share the original; a mutating consumer gets the original
    only if no other consumer needs it unchanged (it is the last mutator and there
    is no read-only consumer).
    """

    def __init__(self, consumers: list[Consumer]) -> None:
        self.readonly = [c for c in consumers if not c.mutates_data]
        self.mutating = [c for c in consumers if c.mutates_data]
        self.mutates_data = bool(self.mutating)

    async def consume(self, batch: Batch) -> None:
        first_error: ConsumerError | None = None
        mutators = self.mutating
        copies = [batch.copy() for _ in mutators] if self.readonly else \
            [batch.copy() for _ in mutators[:-1]] + [batch]
        for consumer, data in zip(mutators, copies, strict=True):
            first_error = await _deliver(consumer, data, first_error)
        for consumer in self.readonly:
            first_error = await _deliver(consumer, batch, first_error)
        if first_error is not None:
            raise first_error


#: one line a minute per (consumer type, exception type) for consumers that fail
_PROBLEMS = ProblemLog(logging.getLogger("hangar_otelcol.pipeline"))


async def _deliver(consumer: Consumer, batch: Batch, error: ConsumerError | None
                   ) -> ConsumerError | None:
    # every consumer gets the data even if an earlier one refused it, or failed
    try:
        await consumer.consume(batch)
    except ConsumerError as exc:
        return error or exc
    except Exception as exc:
        # a bug in one consumer (it should have isolated the record it failed on): the
        # others still get the batch; upstream sees a retryable refusal, as for any bug
        # (docs/architecture.md, "Bad records")
        name = _name(consumer)
        _PROBLEMS.error("consumer_failed", "%s failed on a batch of %d %s (the other "
                        "consumers of the fan-out got it): %r", name, batch.item_count,
                        batch.signal.item_name, exc, detail=f"{name}:{type(exc).__name__}",
                        exc_info=True)
        return error or ConsumerError(f"{name}: {type(exc).__name__}: {exc}")
    return error


def _name(consumer: Consumer) -> str:
    settings = getattr(consumer, "settings", None)
    if settings is None:  # a connector's intake, an observed processor
        inner = getattr(consumer, "_connector", None) or getattr(consumer, "inner", None)
        settings = getattr(inner, "settings", None)
    return str(settings.id) if settings is not None else type(consumer).__name__


def fan_out(consumers: list[Consumer]) -> Consumer:
    return consumers[0] if len(consumers) == 1 else FanOut(consumers)


class _Observed:
    """Counts items entering (or leaving) a processor."""

    def __init__(self, inner: Consumer, telemetry: ComponentTelemetry, incoming: bool) -> None:
        self.inner = inner
        self.mutates_data = inner.mutates_data
        self._count = telemetry.incoming if incoming else telemetry.outgoing

    async def consume(self, batch: Batch) -> None:
        self._count(batch.signal, batch.item_count)
        await self.inner.consume(batch)


@dataclass
class Graph:
    receivers: dict[ComponentID, Any] = field(default_factory=dict)
    #: (pipeline, id, instance), in pipeline order, first processor first
    processors: list[tuple[str, ComponentID, Any]] = field(default_factory=list)
    exporters: dict[ComponentID, Any] = field(default_factory=dict)
    connectors: dict[ComponentID, Any] = field(default_factory=dict)
    extensions: dict[ComponentID, Any] = field(default_factory=dict)

    def all_components(self) -> list[tuple[Kind, ComponentID, Any]]:
        return [
            *((Kind.EXTENSION, c, i) for c, i in self.extensions.items()),
            *((Kind.EXPORTER, c, i) for c, i in self.exporters.items()),
            *((Kind.CONNECTOR, c, i) for c, i in self.connectors.items()),
            *((Kind.PROCESSOR, c, i) for _, c, i in self.processors),
            *((Kind.RECEIVER, c, i) for c, i in self.receivers.items()),
        ]


class _Builder:
    def __init__(self, config: GatewayConfig, telemetry: Telemetry) -> None:
        self.config = config
        self.telemetry = telemetry
        self.graph = Graph()
        self.heads: dict[str, Consumer] = {}
        self._building: list[str] = []

    def settings(self, kind: Kind, cid: ComponentID, pipeline: str = "") -> CreateSettings:
        return CreateSettings.for_component(self.telemetry, kind, cid, pipeline)

    def build(self) -> Graph:
        cfg = self.config
        for cid in cfg.enabled_extensions:  # canonical ids (an alias type is resolved)
            entry = cfg.extensions[cid]
            self.graph.extensions[cid] = entry.factory.create(
                self.settings(Kind.EXTENSION, cid), entry.config)
        for name in cfg.pipelines:
            self.head(name)
        for cid in sorted({r for p in cfg.pipelines.values() for r in p.receivers}):
            if cid in cfg.connectors:
                continue
            entry = cfg.receivers[cid]
            consumers = {
                signal: fan_out(heads) for signal, heads in self._heads_listing(cid).items()}
            self.graph.receivers[cid] = entry.factory.create(
                self.settings(Kind.RECEIVER, cid), entry.config, consumers)
        return self.graph

    def _heads_listing(self, receiver: ComponentID) -> dict[Signal, list[Consumer]]:
        out: dict[Signal, list[Consumer]] = {}
        for name, pipe in self.config.pipelines.items():
            if receiver in pipe.receivers:
                out.setdefault(pipe.signal, []).append(self.head(name))
        return out

    def head(self, name: str) -> Consumer:
        if name in self.heads:
            return self.heads[name]
        if name in self._building:
            cycle = " -> ".join([*self._building[self._building.index(name):], name])
            raise ConfigError([f"service.pipelines: connectors form a cycle: {cycle}"])
        self._building.append(name)
        pipe: ResolvedPipeline = self.config.pipelines[name]
        targets = [self.connector_input(cid, pipe.signal) if cid in self.config.connectors
                   else self.exporter(cid) for cid in pipe.exporters]
        node: Consumer = fan_out(targets)
        created: list[tuple[str, ComponentID, Any]] = []
        for cid in reversed(pipe.processors):
            entry = self.config.processors[cid]
            settings = self.settings(Kind.PROCESSOR, cid, pipeline=name)
            processor = entry.factory.create(
                settings, entry.config, pipe.signal, _Observed(node, settings.telemetry, False))
            created.append((name, cid, processor))
            node = _Observed(processor, settings.telemetry, True)
        self.graph.processors.extend(reversed(created))
        self._building.pop()
        self.heads[name] = node
        return node

    def exporter(self, cid: ComponentID) -> Any:
        if cid not in self.graph.exporters:
            entry = self.config.exporters[cid]
            self.graph.exporters[cid] = entry.factory.create(
                self.settings(Kind.EXPORTER, cid), entry.config)
        return self.graph.exporters[cid]

    def connector_input(self, cid: ComponentID, signal: Signal) -> Consumer:
        """What a pipeline of ``signal`` exports to: the connector, or the consumer it
        offers for that signal (``consumer_for``: e.g. one that mutates only on logs)."""
        connector = self.connector(cid)
        consumer_for = getattr(connector, "consumer_for", None)
        return consumer_for(signal) if consumer_for is not None else connector

    def connector(self, cid: ComponentID) -> Any:
        if cid not in self.graph.connectors:
            entry = self.config.connectors[cid]
            consumers = {signal: fan_out(heads)
                         for signal, heads in self._heads_listing(cid).items()}
            self.graph.connectors[cid] = entry.factory.create(
                self.settings(Kind.CONNECTOR, cid), entry.config, consumers)
        return self.graph.connectors[cid]


def build(config: GatewayConfig, telemetry: Telemetry) -> Graph:
    """Create every component used by a pipeline and wire them (nothing is started)."""
    return _Builder(config, telemetry).build()
