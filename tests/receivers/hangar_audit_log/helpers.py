"""Helpers of the hangar_audit_log tests: the receiver in-process against a collecting
consumer, hangar-style audit lines, the captured 1.1.0 stderr lines (DATA)."""

from __future__ import annotations

from typing import Any

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.receivers.hangar_audit_log.config import HangarAuditLogConfig
from hangar_otelcol.receivers.hangar_audit_log.factory import FACTORY
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, StandaloneHost, make_settings
from tests.support.otlp import attrs, items
from tests.support.paths import TESTDATA

DATA = TESTDATA / "hangar-audit-log"


def records(consumer: CollectingConsumer) -> list[dict[str, Any]]:
    """Every log record received, flattened: attributes + body/scope/time/service."""
    return [{"attrs": attrs(rec), "body": rec.body.string_value, "scope": scope.name,
             "time": rec.time_unix_nano, "severity": rec.severity_number,
             "service": attrs(resource).get("service.name"), "transport": part.sender.transport}
            for batch in consumer.batches for part in batch.parts
            for resource, scope, rec in items(Signal.LOGS, part.message)]


def audit_line(n: int, tool: str = "add") -> str:
    return ('{"mcp.event.name": "tool_invocation", "mcp.server.id": "math", '
            f'"mcp.tool.name": "{tool}", "mcp.tool.status": "success", '
            f'"mcp.tool.duration_ms": {n}.5, "seq": {n}, "event": "audit_event", '
            '"level": "info", "logger": "x", "timestamp": "2026-11-24T21:11:10.936064Z", '
            '"service": "mcp-hangar"}\n')


class Harness:
    """One receiver instance with its own telemetry and a collecting consumer."""

    def __init__(self, raw: dict[str, Any], consumer: Any = None) -> None:
        raw = {"poll_interval": "20ms", "batch_timeout": "20ms", **raw}
        self.config: HangarAuditLogConfig = build(HangarAuditLogConfig, raw)
        self.telemetry = Telemetry()
        self.settings = make_settings(Kind.RECEIVER, "hangar_audit_log", self.telemetry)
        self.consumer = consumer or CollectingConsumer()
        self.receiver = FACTORY.create(self.settings, self.config, {Signal.LOGS: self.consumer})

    async def __aenter__(self) -> Harness:
        await self.receiver.start(StandaloneHost())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.receiver.shutdown()

    def lines(self, outcome: str) -> float:
        return self.receiver.lines.get(outcome)

    def metric(self, name: str, *labels: str) -> float:
        for family in self.telemetry.collect():
            for sample in family.samples:
                if sample.name == name and tuple(sample.labels.values()) == labels:
                    return sample.value
        return 0.0


class FlakyConsumer(CollectingConsumer):
    """Refuses the first ``refusals`` batches (retryable), then accepts."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.refused = 0

    async def consume(self, batch: Batch) -> None:
        if self.refused < self.refusals:
            self.refused += 1
            raise ConsumerError("queue full", retry_after=0.01)
        await super().consume(batch)
