"""Bad records (issue 13): a component that fails on one record drops (or passes on) that
record only; the rest of the batch, and every other consumer of the fan-out, go on."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.exposition import generate_latest

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.exporters.compliance.factory import FACTORY as COMPLIANCE
from hangar_otelcol.exporters.compliance.record import ComplianceRecord
from hangar_otelcol.exporters.compliance.work import ComplianceWork
from hangar_otelcol.exporters.prometheus.counting import CountWork, _checked_fact
from hangar_otelcol.exporters.prometheus.factory import FACTORY as PROMETHEUS
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.mcp.numbers import MAX_COUNT
from hangar_otelcol.pdata import Batch, Part, Signal
from hangar_otelcol.pipeline import FanOut
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.factory import FACTORY as COST
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, RefusingConsumer, make_settings
from tests.mcp.test_index_reading import TOOL, _log_part, _span_part
from tests.support.metrics import samples, series


def _batch(part: Part) -> Batch:
    return Batch(Signal.LOGS, [part])


async def test_one_consumer_raising_does_not_stop_the_others() -> None:
    before, after = CollectingConsumer(), CollectingConsumer()
    broken = RefusingConsumer(OverflowError("int too large to convert to float"))
    fan = FanOut([before, broken, after])
    with pytest.raises(ConsumerError) as info:
        await fan.consume(_batch(_log_part([TOOL])))
    assert broken.calls == 1
    assert before.items() == 1 and after.items() == 1  # both got it
    assert not info.value.permanent  # a bug: retryable, as the receiver treats any bug


def test_a_value_the_exposition_cannot_write_is_left_out_of_the_scrape() -> None:
    telemetry = Telemetry()
    counter = telemetry.counter("demo_total", "demo", ("k",))
    counter.inc(("good",), 3)
    counter.inc(("bad",), 10**400)  # an int no float can hold
    got = samples(generate_latest(telemetry.registry).decode())
    assert series(got, "demo_total", k="good") == 3
    assert ("demo_total", frozenset({("k", "bad")})) not in got


def _cost(rules: list[dict[str, Any]], telemetry: Telemetry) -> tuple[Any, CollectingConsumer]:
    out = CollectingConsumer()
    proc = COST.create(make_settings(Kind.PROCESSOR, "mcp_cost", telemetry),
                       build(CostConfig, {"rules": rules}), Signal.LOGS, out)
    return proc, out


def _attrs(record: Any) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in record.attributes}


async def test_calls_with_unusable_numbers_are_unpriced_and_say_why() -> None:
    telemetry = Telemetry()
    proc, _ = _cost([{"mcp_server_id": "*", "tool_name": "*", "model": "composite",
                      "usd_per_1k_input_tokens": 1000, "usd_per_minute": 1,
                      "usd_per_call": 0.001}], telemetry)
    call = [TOOL, ("mcp.server.id", "s"), ("gen_ai.tool.name", "t")]
    part = _log_part(
        [*call, ("gen_ai.usage.input_tokens", 1000)],               # priced
        [*call, ("gen_ai.usage.input_tokens", "9" * 400)],          # out_of_range
        [*call, ("gen_ai.usage.input_tokens", -5)],                 # invalid_number
        [*call, ("gen_ai.usage.input_tokens", "²")],                # invalid_number
        [*call, ("mcp.tool.duration_ms", 1e30)],                    # out_of_range
        [*call, ("gen_ai.usage.input_tokens", MAX_COUNT)],          # a cost above 1e15
    )
    await proc.consume(_batch(part))
    invs = [i for i in index(part) if i.event == TOOL_EVENT]
    assert invs[0].cost_cents == 10_000_000 + 10
    attrs = [_attrs(inv.record) for inv in invs]
    for a in attrs[1:]:
        assert "mcp.cost.cents" not in a and "mcp.cost.input_tokens" not in a, a
    assert attrs[1]["gen_ai.usage.input_tokens"] == "9" * 400  # kept as sent
    assert attrs[1]["mcp.cost.error"].startswith("out_of_range: gen_ai.usage.input_tokens")
    assert attrs[2]["mcp.cost.error"] == "invalid_number: gen_ai.usage.input_tokens: negative"
    assert attrs[3]["mcp.cost.error"].startswith("invalid_number: gen_ai.usage.input_tokens: "
                                                 "not a number")
    assert attrs[4]["mcp.cost.error"].startswith("out_of_range: mcp.tool.duration_ms")
    assert attrs[5]["mcp.cost.error"].startswith("out_of_range: the cost of rule 0")
    outcomes = telemetry.counter("otelcol_processor_mcp_cost_invocations_total", "", ())
    assert outcomes.get(("mcp_cost", "priced")) == 1
    assert outcomes.get(("mcp_cost", "out_of_range")) == 3
    assert outcomes.get(("mcp_cost", "invalid_number")) == 2
    cents = telemetry.counter("otelcol_processor_mcp_cost_cents_total", "", ())
    assert cents.get(("mcp_cost", "USD")) == 10_000_010


async def test_a_sender_cost_that_is_stripped_does_not_make_the_call_unpriced() -> None:
    proc, _ = _cost([{"usd_per_call": 0.001}], Telemetry())
    part = _log_part([TOOL, ("mcp.server.id", "s"), ("mcp.cost.cents", -100)])
    await proc.consume(_batch(part))
    (inv,) = index(part)
    assert inv.cost_cents == 10 and not inv.invalid


def test_a_span_that_ends_before_it_starts_has_no_duration() -> None:
    part = _span_part("batch.call.add", [])
    part.message.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 1
    (inv,) = index(part)
    assert inv.duration_ms is None
    assert inv.invalid == {"duration_ms": ("end_time_unix_nano",
                                           "the span ends before it starts", "invalid_number")}


async def test_a_processor_failing_on_one_record_passes_it_on_unprocessed() -> None:
    telemetry = Telemetry()
    proc, out = _cost([{"usd_per_call": 0.001}], telemetry)
    real = proc.process

    def flaky(inv: Any, context: Any) -> str:
        if inv.tool == "bad":
            raise RuntimeError("boom")
        return real(inv, context)

    proc.process = flaky
    part = _log_part([TOOL, ("gen_ai.tool.name", "bad")], [TOOL, ("gen_ai.tool.name", "ok")])
    await proc.consume(_batch(part))
    assert out.items() == 2
    bad, ok = index(part)
    assert bad.cost_cents is None and ok.cost_cents == 10
    assert telemetry.counter("otelcol_processor_bad_records_total", "", ()).get(
        ("mcp_cost", "process_failed")) == 1


async def test_prometheus_counts_every_call_but_the_one_it_fails_on() -> None:
    telemetry = Telemetry()
    exporter = PROMETHEUS.create(make_settings(Kind.EXPORTER, "prometheus", telemetry),
                                 PROMETHEUS.default_config())
    good = ("s", "t", "success", 5.0, None, 25, "fixed", "", "")
    bad = ("s", "bad", "success", 5.0, None, 25, "fixed", "", "")
    real = exporter.metrics.record

    def record(fact: Any) -> None:
        if fact[1] == "bad":
            raise OverflowError("int too large to convert to float")
        real(fact)

    exporter.metrics.record = record
    await exporter.send(CountWork([good, bad, good], [1, 2, 3], Signal.LOGS))
    assert exporter.metrics.calls.get(("s", "t", "success")) == 2
    assert exporter.metrics.cost.get(("s", "t", "fixed")) == 50
    assert exporter.metrics.calls.get(("s", "bad", "success")) == 0
    assert telemetry.counter("otelcol_exporter_bad_records_total", "", ()).get(
        ("prometheus", "count_failed")) == 1
    # a negative or huge cost never reaches a counter; the call itself is still counted
    assert _checked_fact(("s", "t", "success", -1.0, None, -5, "m", "", ""))[3:6] == \
        (None, None, None)
    assert _checked_fact(("s", "t", "success", 1.0, None, 10**20, "m", "", ""))[5] is None


async def test_a_compliance_record_that_cannot_be_queued_is_left_out_alone() -> None:
    telemetry = Telemetry()
    exporter = COMPLIANCE.create(make_settings(Kind.EXPORTER, "compliance", telemetry),
                                 build(COMPLIANCE.config_class, {"format": "jsonlines",
                                                                 "output": "stderr"}))
    ok = ComplianceRecord("ToolInvocationCompleted", 1, "s", "t", "success", cost_cents=25)
    bad = ComplianceRecord("ToolInvocationCompleted", 2, "s", "t", "success",
                           cost_cents=2**70)
    work = ComplianceWork([ok, bad, ok], [1, 2, 3])
    data = exporter.encode_work(work)
    assert [r.time_unix_nano for r in ComplianceWork.decode(data).records] == [1, 1]
    assert work.ids == [1, 3] and work.item_count == 2
    assert telemetry.counter("otelcol_exporter_bad_records_total", "", ()).get(
        ("compliance", "unencodable")) == 1
    # and one that cannot be formatted is left out of the lines, the others are written
    work = ComplianceWork([ok, bad, ok], [1, 2, 3])
    lines = exporter._render_pending(work)
    assert [rid for rid, _ in lines] == [1, 3]
    assert telemetry.counter("otelcol_exporter_bad_records_total", "", ()).get(
        ("compliance", "format_failed")) == 1
