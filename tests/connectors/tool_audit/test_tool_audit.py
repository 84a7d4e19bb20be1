"""tool_audit: audit records pass through (noted in the ledger); hangar spans -> audit
records, once per call, none for calls already audited.

Input: the real OTLP captures of hangar 1.6.3 (spans only) and 2.34.4 (spans + audit logs),
read from tests/testdata/hangar-captures through tests/support/captures.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.connectors.tool_audit.config import ToolAuditConfig
from hangar_otelcol.connectors.tool_audit.factory import FACTORY
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.mcp.attrs import set_attributes
from hangar_otelcol.pdata import Batch, Part, Principal, Sender, Signal
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, StandaloneHost, make_settings
from tests.support import captures as hc
from tests.support.otlp import items


def make(raw: dict[str, Any] | None = None, consumer: Any = None) -> tuple[Any, Any]:
    cfg = build(ToolAuditConfig, raw or {"hold": 0})
    consumer = consumer or CollectingConsumer()
    settings = make_settings(Kind.CONNECTOR, "tool_audit", Telemetry())
    return FACTORY.create(settings, cfg, {Signal.LOGS: consumer}), consumer


def traces(version: str) -> list[Part]:
    return [p for p in hc.load(version) if hc.signal_of(p) is Signal.TRACES]


def logs(version: str) -> list[Part]:
    return [p for p in hc.load(version) if hc.signal_of(p) is Signal.LOGS]


def emitted(consumer: CollectingConsumer) -> list[tuple[Any, Any, Any]]:
    """(resource, scope name, record) of every audit record the connector derived."""
    return [(resource, scope.name, rec) for batch in consumer.batches for part in batch.parts
            for resource, scope, rec in items(Signal.LOGS, part.message)
            if hc.attrs(rec).get("mcp.audit.source") == "span"]


async def run(connector: Any, parts: list[Part]) -> None:
    await connector.start(StandaloneHost())
    for part in parts:
        await connector.consume(Batch(Signal.TRACES, [part]))
    await connector.shutdown()


async def test_span_only_sender_gets_one_audit_record_per_call() -> None:
    connector, consumer = make()
    parts = traces("1.6.3")
    await run(connector, parts)
    out = emitted(consumer)
    got = [hc.attrs(rec) for _, _, rec in out]
    assert Counter((a["mcp.server.id"], a["gen_ai.tool.name"]) for a in got) == Counter(hc.CALLS)
    assert {scope for _, scope, _ in out} == {"mcp_hangar.audit"}
    for _, _, rec in out:
        assert rec.body.string_value == "tool_invocation"
        assert (rec.severity_number, rec.severity_text) == (9, "INFO")
        assert len(rec.trace_id) == 16 and len(rec.span_id) == 8
    by_tool = {a["gen_ai.tool.name"]: a for a in got}
    assert by_tool["divide"]["mcp.tool.status"] == "error"
    assert by_tool["divide"]["mcp.error.type"] == "tool_error"
    assert by_tool["slow"]["mcp.error.type"] == "TimeoutError"
    assert by_tool["multiply"]["mcp.tool.status"] == "success"
    assert "mcp.error.type" not in by_tool["multiply"]
    assert all(a["mcp.audit.source"] == "span" for a in got)
    assert all(isinstance(a["mcp.tool.duration_ms"], float) for a in got)
    resource = hc.attrs(out[0][0])
    assert (resource["service.name"], resource["service.version"]) == ("mcp-hangar", "1.6.3")
    assert connector.spans.get("derived") == 6


async def test_record_time_and_ids_are_the_spans() -> None:
    connector, consumer = make()
    parts = traces("1.6.3")
    spans = {s.span_id: s for p in parts for rs in p.message.resource_spans
             for ss in rs.scope_spans for s in ss.spans if s.name.startswith("batch.call.")}
    await run(connector, parts)
    for _, _, rec in emitted(consumer):
        span = spans[rec.span_id]
        assert rec.trace_id == span.trace_id
        assert rec.time_unix_nano == span.end_time_unix_nano
        expected_ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
        assert hc.attrs(rec)["mcp.tool.duration_ms"] == pytest.approx(expected_ms)


async def test_derived_records_read_like_real_audit_records() -> None:
    """The logs pipeline (index) sees the same calls as from a 2.x sender's audit logs."""
    connector, consumer = make()
    await run(connector, traces("1.6.3"))
    derived = [i for b in consumer.batches for p in b.parts for i in index(p)]
    assert all(i.derived and i.counted and not i.is_span for i in derived)
    real = [i for p in logs("2.34.4") for i in index(p) if i.event == TOOL_EVENT]

    def view(invs: list[Any]) -> Counter:
        return Counter((i.server, i.tool, i.status, i.error_type) for i in invs)

    assert view(derived) == view(real)


async def test_audit_records_pass_through_unchanged_and_are_noted() -> None:
    connector, consumer = make()
    host = StandaloneHost()
    await connector.start(host)
    intake = connector.consumer_for(Signal.LOGS)
    parts = logs("2.34.4")
    wire = [p.wire() for p in parts]
    for part in parts:
        await intake.consume(Batch(Signal.LOGS, [part]))
    await connector.shutdown()
    assert [p for b in consumer.batches for p in b.parts] == parts  # the same parts, in order
    assert [p.wire() for p in parts] == wire and not any(p.mutated for p in parts)
    assert len(host.ledger) == 6  # one report per real tool-call record


async def test_a_refusal_of_audit_records_reaches_their_sender() -> None:
    connector, _ = make(consumer=Refusing(1))
    await connector.start(StandaloneHost())
    with pytest.raises(ConsumerError, match="busy"):
        await connector.consumer_for(Signal.LOGS).consume(Batch(Signal.LOGS, logs("2.34.4")))
    await connector.shutdown()


def test_the_logs_input_mutates_exactly_when_the_logs_pipeline_does() -> None:
    class Mutating(CollectingConsumer):
        mutates_data = True

    for consumer in (CollectingConsumer(), Mutating()):
        connector, _ = make(consumer=consumer)
        assert connector.consumer_for(Signal.LOGS).mutates_data is consumer.mutates_data
        assert connector.consumer_for(Signal.TRACES) is connector
        assert connector.mutates_data is False  # trace batches are only read


async def test_calls_already_audited_are_not_duplicated() -> None:
    connector, consumer = make()
    await connector.start(StandaloneHost())
    for part in logs("2.34.4"):  # the logs intake pipeline exports them to the connector
        await connector.consume(Batch(Signal.LOGS, [part]))
    for part in traces("2.34.4"):
        await connector.consume(Batch(Signal.TRACES, [part]))
    await connector.shutdown()
    assert emitted(consumer) == []
    assert connector.spans.get("covered") == 6


@pytest.mark.parametrize("forger", ["bearertokenauth:mallory", ""])
async def test_a_forged_audit_record_cannot_erase_another_senders_call(forger: str) -> None:
    """hangar (authenticated as hangar-prod) sends its spans; someone else sends audit
    records with the same trace ids and tools (they travel in traceparent, they are no
    secret): another principal's records cover nothing, so every call is still audited."""
    hangar = Sender("grpc", "10.0.0.5", {}, Principal("bearertokenauth", "hangar-prod"))
    authenticator, _, subject = forger.partition(":")
    mallory = Sender("grpc", "10.0.0.66", {},
                     Principal(authenticator, subject) if subject else None)
    connector, consumer = make()
    await connector.start(StandaloneHost())
    for part in hc.load("2.34.4", mallory):
        if hc.signal_of(part) is Signal.LOGS:
            await connector.consume(Batch(Signal.LOGS, [part]))
    for part in hc.load("2.34.4", hangar):
        if hc.signal_of(part) is Signal.TRACES:
            await connector.consume(Batch(Signal.TRACES, [part]))
    await connector.shutdown()
    assert len(emitted(consumer)) == 6  # hangar's six calls, derived from its spans
    assert connector.spans.get("covered") == 0
    # and from the same principal, its own records do cover its spans
    connector, consumer = make()
    await connector.start(StandaloneHost())
    for part in hc.load("2.34.4", hangar):
        await connector.consume(Batch(hc.signal_of(part), [part]))
    await connector.shutdown()
    assert emitted(consumer) == [] and connector.spans.get("covered") == 6


async def test_spans_wait_for_audit_records_that_arrive_later() -> None:
    connector, consumer = make({"hold": "300ms"})
    await connector.start(StandaloneHost())
    for part in traces("2.34.4"):
        await connector.consume(Batch(Signal.TRACES, [part]))
    await asyncio.sleep(0.05)
    for part in logs("2.34.4"):  # hangar's log processor flushed after its span processor
        await connector.consume(Batch(Signal.LOGS, [part]))
    await asyncio.sleep(0.5)
    assert emitted(consumer) == []
    await connector.shutdown()
    assert connector.spans.get("covered") == 6


async def test_the_ledger_named_in_the_config_is_the_one_used() -> None:
    from hangar_otelcol.ledger.memory import MemoryLedger

    shared = MemoryLedger()
    first, _ = make({"hold": 0, "ledger": "call_ledger"})
    second, out = make({"hold": 0, "ledger": "call_ledger"})
    await first.start(StandaloneHost({"call_ledger": shared}))
    await second.start(StandaloneHost({"call_ledger": shared}))
    for part in logs("2.34.4"):  # one gateway process sees the audit records ...
        await first.consume(Batch(Signal.LOGS, [part]))
    for part in traces("2.34.4"):  # ... another the spans: still counted once
        await second.consume(Batch(Signal.TRACES, [part]))
    await first.shutdown()
    await second.shutdown()
    assert emitted(out) == [] and second.spans.get("covered") == 6


async def test_held_spans_are_emitted_when_their_hold_ends() -> None:
    connector, consumer = make({"hold": "100ms"})
    await connector.start(StandaloneHost())
    await asyncio.sleep(0.05)  # idle first, as in a gateway: nothing held, no deadline
    try:
        for part in traces("1.6.3"):
            await connector.consume(Batch(Signal.TRACES, [part]))
        assert emitted(consumer) == []  # still held
        await consumer.wait_for_items(6, timeout=5)  # long before shutdown
    finally:
        await connector.shutdown()
    assert len(emitted(consumer)) == 6


async def test_held_spans_are_emitted_at_shutdown() -> None:
    connector, consumer = make({"hold": "10m"})
    await connector.start(StandaloneHost())
    for part in traces("1.6.3"):
        await connector.consume(Batch(Signal.TRACES, [part]))
    assert emitted(consumer) == []
    await connector.shutdown()
    assert len(emitted(consumer)) == 6


async def test_caller_and_cost_on_the_span_are_carried_over() -> None:
    part = traces("1.6.3")[1]
    for inv in index(part):
        if inv.counted:
            set_attributes(inv, {"mcp.caller.type": "user", "mcp.caller.id": "alice",
                                "mcp.cost.cents": 42, "mcp.cost.model": "fixed",
                                "batch.call.id": "not copied"})
    connector, consumer = make()
    await run(connector, [part])
    (_, _, rec), = emitted(consumer)
    a = hc.attrs(rec)
    assert (a["mcp.caller.type"], a["mcp.caller.id"]) == ("user", "alice")
    assert (a["mcp.cost.cents"], a["mcp.cost.model"]) == (42, "fixed")
    assert "batch.call.id" not in a


async def test_trace_batch_is_not_changed_and_sender_is_kept() -> None:
    sender = Sender(transport="grpc", peer="10.0.0.7", metadata={"x-user-id": "bob"})
    parts = hc.load("1.6.3", sender=sender)
    wire = [p.wire() for p in parts]
    connector, consumer = make()
    assert connector.mutates_data is False
    await run(connector, parts)
    assert [p.wire() for p in parts] == wire and not any(p.mutated for p in parts)
    assert all(p.sender is sender for b in consumer.batches for p in b.parts)


async def test_spans_that_are_no_tool_calls_give_nothing() -> None:
    connector, consumer = make()
    await run(connector, [Part(ExportTraceServiceRequest())])
    assert consumer.batches == []


class Refusing(CollectingConsumer):
    def __init__(self, refusals: int, permanent: bool = False) -> None:
        super().__init__()
        self.refusals, self.permanent = refusals, permanent

    async def consume(self, batch: Batch) -> None:
        if self.refusals:
            self.refusals -= 1
            raise ConsumerError("busy", permanent=self.permanent, retry_after=0.01)
        await super().consume(batch)


async def test_retryable_refusal_is_retried() -> None:
    connector, consumer = make({"hold": "10ms"}, Refusing(2))
    await connector.start(StandaloneHost())
    for part in traces("1.6.3"):
        await connector.consume(Batch(Signal.TRACES, [part]))
    await consumer.wait_for_items(6, timeout=5)
    await connector.shutdown()
    assert len(emitted(consumer)) == 6


async def test_permanent_refusal_is_counted_and_dropped(caplog) -> None:
    connector, _ = make({"hold": 0}, Refusing(100, permanent=True))
    await run(connector, traces("1.6.3"))
    assert connector.spans.get("dropped") == 6
    assert "refused, dropped" in caplog.text


def test_config_errors() -> None:
    with pytest.raises(ConfigError) as err:
        build(ToolAuditConfig, {"hold": "forever", "max_held": 0, "colour": 1},
              "connectors.tool_audit")
    text = str(err.value)
    assert "connectors.tool_audit.hold: invalid duration 'forever'" in text
    assert "connectors.tool_audit.max_held: must be at least 1" in text
    assert "connectors.tool_audit.colour: unknown key" in text


class Process:
    """tool_audit with a file_storage (SQLite in ``state``) and a call_ledger kept in it:
    the connector of one gateway process, which the test may kill and start again."""

    def __init__(self, state: Any, hold: str) -> None:
        from hangar_otelcol.extensions.call_ledger.config import CallLedgerConfig
        from hangar_otelcol.extensions.call_ledger.extension import CallLedgerExtension
        from hangar_otelcol.extensions.file_storage.config import FileStorageConfig
        from hangar_otelcol.extensions.file_storage.extension import FileStorage

        tel = Telemetry()
        self.storage = FileStorage(make_settings(Kind.EXTENSION, "file_storage", tel),
                                   build(FileStorageConfig, {"directory": str(state)}))
        self.ledger = CallLedgerExtension(make_settings(Kind.EXTENSION, "call_ledger", tel),
                                          build(CallLedgerConfig, {"storage": "file_storage"}))
        self.connector, self.out = make({"hold": hold, "ledger": "call_ledger",
                                         "storage": "file_storage"})
        self.host = StandaloneHost({"file_storage": self.storage, "call_ledger": self.ledger})

    async def start(self) -> Process:
        await self.storage.start(self.host)
        await self.ledger.start(self.host)
        await self.connector.start(self.host)
        return self

    async def kill(self) -> None:
        assert self.connector._task is not None
        self.connector._task.cancel()  # no shutdown: what SIGKILL leaves
        await self.storage.shutdown()

    async def stop(self) -> None:
        await self.connector.shutdown()
        await self.storage.shutdown()


async def test_a_span_held_during_a_crash_still_becomes_its_audit_record(tmp_path) -> None:
    first = await Process(tmp_path, "300ms").start()
    for part in traces("1.6.3"):  # answered: the spans are on disk
        await first.connector.consume(Batch(Signal.TRACES, [part]))
    await first.kill()
    assert emitted(first.out) == []
    second = await Process(tmp_path, "300ms").start()
    await second.out.wait_for_items(6, timeout=5)  # their hold ends after the restart
    await second.stop()
    got = Counter((hc.attrs(r)["mcp.server.id"], hc.attrs(r)["gen_ai.tool.name"])
                  for _, _, r in emitted(second.out))
    assert got == Counter(hc.CALLS)
    third = await Process(tmp_path, "300ms").start()  # nothing is held twice
    await asyncio.sleep(0.5)
    await third.stop()
    assert emitted(third.out) == []


async def test_audit_records_noted_before_a_crash_still_cover_their_spans(tmp_path) -> None:
    first = await Process(tmp_path, "200ms").start()
    for part in logs("2.34.4"):
        await first.connector.consume(Batch(Signal.LOGS, [part]))
    for part in traces("2.34.4"):
        await first.connector.consume(Batch(Signal.TRACES, [part]))
    await first.kill()
    second = await Process(tmp_path, "200ms").start()
    await asyncio.sleep(0.5)
    await second.stop()
    assert emitted(first.out) == emitted(second.out) == []  # every call counted once


async def test_with_a_storage_held_spans_stay_held_over_a_clean_stop(tmp_path) -> None:
    first = await Process(tmp_path, "10m").start()
    for part in traces("1.6.3"):
        await first.connector.consume(Batch(Signal.TRACES, [part]))
    await first.stop()  # their audit records may still come: not decided early
    assert emitted(first.out) == []
    second = await Process(tmp_path, "10m").start()
    assert len(second.connector._held) == 6
    await second.kill()
