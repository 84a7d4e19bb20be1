"""Small in-test components to exercise the runtime (the real ones are tested in their
own folders); they record what they see so tests can assert on order and data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hangar_otelcol.component import BaseComponent, Factory, Kind, Stability
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.registry import Registry

EVENTS: list[str] = []
ALL = {"traces": Stability.STABLE, "logs": Stability.STABLE, "metrics": Stability.STABLE}


@dataclass
class FakeConfig:
    endpoint: str = ""
    fail_start: bool = False
    tag: str = ""


class Recorder(BaseComponent):
    def __init__(self, settings: Any, config: FakeConfig, consumers: Any = None,
                 next_consumer: Any = None) -> None:
        self.settings, self.config = settings, config
        self.consumers, self.next = consumers, next_consumer
        self.batches: list[Batch] = []

    async def start(self, host: Any) -> None:
        EVENTS.append(f"start {self.settings.kind.value} {self.settings.id}")
        if self.config.fail_start:
            raise OSError(f"listen tcp {self.config.endpoint}: address already in use")

    async def shutdown(self) -> None:
        EVENTS.append(f"stop {self.settings.kind.value} {self.settings.id}")


class Tagger(Recorder):
    """A processor that appends its tag to every span name (mutates)."""

    mutates_data = True

    async def consume(self, batch: Batch) -> None:
        for part in batch:
            msg = part.mutable_message()
            for rs in msg.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        span.name += self.config.tag
        await self.next.consume(batch)


class Sink(Recorder):
    async def consume(self, batch: Batch) -> None:
        self.batches.append(batch)

    async def reload(self) -> None:
        EVENTS.append(f"reload {self.settings.kind.value} {self.settings.id}")


class Bridge(Recorder):
    """traces -> logs connector: one log record per span, body = span name."""

    async def consume(self, batch: Batch) -> None:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
        )

        out = ExportLogsServiceRequest()
        records = out.resource_logs.add().scope_logs.add().log_records
        for part in batch:
            for rs in part.message.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        records.add().body.string_value = span.name
        await self.consumers[Signal.LOGS].consume(Batch.of(Signal.LOGS, out))


def registry() -> Registry:
    return Registry([
        Factory("src", Kind.RECEIVER, FakeConfig,
                 lambda s, c, consumers: Recorder(s, c, consumers=consumers), ALL),
        Factory("tag", Kind.PROCESSOR, FakeConfig,
                 lambda s, c, sig, nxt: Tagger(s, c, next_consumer=nxt), ALL),
        Factory("sink", Kind.EXPORTER, FakeConfig, lambda s, c: Sink(s, c), ALL,
                aliases=("sink_alias",)),
        Factory("tracesonly", Kind.EXPORTER, FakeConfig, lambda s, c: Sink(s, c),
                {"traces": Stability.ALPHA}),
        Factory("bridge", Kind.CONNECTOR, FakeConfig,
                lambda s, c, consumers: Bridge(s, c, consumers=consumers), ALL,
                connects=frozenset({(Signal.TRACES, Signal.LOGS)})),
        Factory("ext", Kind.EXTENSION, FakeConfig, lambda s, c: Recorder(s, c),
                {"extension": Stability.BETA}),
    ])
