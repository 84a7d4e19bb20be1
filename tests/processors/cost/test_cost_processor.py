"""The mcp_cost processor on real hangar captures, and pricing-file reloads."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.mcp.attrs import set_attributes
from hangar_otelcol.pdata import Batch, Principal, Sender
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.factory import FACTORY
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, StandaloneHost, make_settings
from tests.support import captures as hc

PRICING = """\
rules:
  - mcp_server_id: "*"
    tool_name: "*"
    usd_per_minute: 6          # $0.0001 = 1 hundredth of a cent per ms
  - mcp_server_id: math
    tool_name: multiply
    usd_per_call: 0.005        # 50
"""


def _make(raw: dict, telemetry: Telemetry | None = None):
    config = build(CostConfig, raw)
    consumer = CollectingConsumer()
    settings = make_settings(Kind.PROCESSOR, "mcp_cost", telemetry)
    proc = FACTORY.create(settings, config, None, consumer)
    return proc, consumer


@pytest.mark.parametrize("version", ["1.1.0", "1.6.3", "2.34.4"])
async def test_captures_get_cost_on_the_right_records(tmp_path: Path, version: str) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text(PRICING)
    proc, out = _make({"pricing_file": str(pricing)})
    parts = hc.load(version)
    untouched = {id(p): p.wire() for p in parts}
    for part in parts:
        await proc.consume(Batch(hc.signal_of(part), [part]))
    priced = {}
    for part in parts:
        invs = [i for i in index(part) if i.event == TOOL_EVENT]
        if not invs:
            assert part.wire() == untouched[id(part)]  # nothing to price: bytes unchanged
        for inv in invs:
            attrs = hc.attrs(inv.record)
            if inv.wrapper or inv.status != "success":
                assert "mcp.cost.cents" not in attrs, inv
                continue
            if inv.tool == "multiply" and inv.server == "math":
                expected = 50
            else:
                expected = int(inv.duration_ms)  # 1 unit per ms, truncated
            if expected == 0:
                assert "mcp.cost.cents" not in attrs
                continue
            assert attrs["mcp.cost.cents"] == expected == inv.cost_cents
            assert attrs["mcp.cost.model"] == ("fixed" if expected == 50 and inv.tool ==
                                               "multiply" and inv.server else "duration")
            assert attrs["mcp.cost.currency"] == "USD"
            if inv.counted:
                priced.setdefault(inv.is_span, []).append(inv.tool)
    # every successful call (add, multiply, add, add; divide too before 1.6) is priced
    # on its counted record(s)
    assert sorted(priced[True] if version == "1.6.3" else priced[False]) == sorted(
        ["add", "multiply", "add", "add"] + (["divide"] if version == "1.1.0" else []))
    assert len(out.batches) == len(parts)


async def test_failed_calls_priced_only_when_configured() -> None:
    proc, _ = _make({"rules": [{"usd_per_call": 0.001}], "price_failed_calls": True})
    parts = [p for p in hc.load("2.34.4") if hc.signal_of(p).value == "logs"]
    for part in parts:
        await proc.consume(Batch(hc.signal_of(part), [part]))
    failed = [i for p in parts for i in index(p) if i.status == "error"]
    assert len(failed) == 2 and all(hc.attrs(i.record)["mcp.cost.cents"] == 10 for i in failed)


async def test_a_senders_own_cost_is_removed_unless_kept_or_trusted() -> None:
    """A sender cannot set its own bill: its mcp.cost.* is removed and the rules price the
    call (no rule: no cost), unless sender_cost is keep or the sender a trusted principal."""
    cases = [({}, None, 10), ({"sender_cost": "keep"}, None, 7),
             ({"trusted_principals": ["hangar-*"]}, "hangar-prod", 7),
             ({"trusted_principals": ["hangar-*"]}, "mallory", 10)]
    for extra, subject, expected in cases:
        sender = Sender("grpc", "127.0.0.1", {}, Principal("bearertokenauth", subject)
                        if subject else None)
        part = next(p for p in hc.load("2.34.4", sender) if hc.signal_of(p).value == "logs")
        invs = [i for i in index(part) if i.event == TOOL_EVENT]
        for inv in invs:  # what a forging sender writes: its own, negative, cost
            set_attributes(inv, {"mcp.cost.cents": 7, "mcp.cost.model": "mine"})
            inv.cost_cents = 7
        proc, _ = _make({"rules": [{"usd_per_call": 0.001}], **extra})
        await proc.consume(Batch(hc.signal_of(part), [part]))
        for inv in index(part):
            if inv.event != TOOL_EVENT:
                continue
            got = [kv.value.int_value for kv in inv.record.attributes
                   if kv.key == "mcp.cost.cents"]
            if expected == 7:  # kept as the sender wrote it
                assert got == [7] and hc.attrs(inv.record)["mcp.cost.model"] == "mine"
            elif inv.status == "success":  # priced by the rule, once
                assert got == [10] and hc.attrs(inv.record)["mcp.cost.model"] == "fixed"
            else:  # failed calls are not priced: the forged cost is simply gone
                assert got == [] and "mcp.cost.model" not in hc.attrs(inv.record)


def test_config_errors_are_specific(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - model: fixed\n    usd_per_minute: 1\n")
    with pytest.raises(ConfigError) as exc:
        build(CostConfig, {"rules": [{"model": "nope"}], "pricing_file": str(bad),
                           "currency": "usd"}, "processors.mcp_cost")
    assert exc.value.errors == [
        "processors.mcp_cost.currency: expected an ISO 4217 code such as USD, got 'usd'"]
    with pytest.raises(ConfigError) as exc:
        build(CostConfig, {"rules": [{"model": "nope"}], "pricing_file": str(bad)},
              "processors.mcp_cost")
    assert exc.value.errors[0] == ("processors.mcp_cost.rules[0].model: must be one of token, "
                                   "duration, fixed, composite; got 'nope'")
    assert exc.value.errors[1].startswith(
        f"processors.mcp_cost.pricing_file: {bad}: rules[0].usd_per_minute: not used by model")
    with pytest.raises(ConfigError) as exc:
        build(CostConfig, {"pricing_file": str(tmp_path / "missing.yaml")})
    assert "cannot read" in exc.value.errors[0]
    bad.write_text("rules: [\n")
    with pytest.raises(ConfigError) as exc:
        build(CostConfig, {"pricing_file": str(bad)})
    assert "invalid YAML at line" in exc.value.errors[0]


async def test_reload_is_atomic_and_a_bad_file_keeps_old_rules(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text("rules:\n  - usd_per_call: 0.001\n")
    telemetry = Telemetry()
    proc, _ = _make({"pricing_file": str(pricing), "watch_interval": 0}, telemetry)
    assert [r.fixed for r in proc.rules] == [10]
    pricing.write_text("rules:\n  - usd_per_call: 0.002\n  - model: bogus\n")
    with caplog.at_level(logging.ERROR):
        await proc.reload()
        await proc.reload()  # same problem again: logged once
    assert [r.fixed for r in proc.rules] == [10]
    errors = [r.getMessage() for r in caplog.records if "pricing reload" in r.getMessage()]
    assert len(errors) == 1 and "rules[1].model: must be one of" in errors[0]
    pricing.write_text("rules:\n  - usd_per_call: 0.002\n")
    await proc.reload()
    assert [r.fixed for r in proc.rules] == [20]
    text = telemetry.registry.get_sample_value(
        "otelcol_processor_mcp_cost_reloads_total",
        {"processor": "mcp_cost", "result": "failed"})
    assert text == 2


async def test_file_change_is_picked_up_without_sighup(tmp_path: Path) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text("rules:\n  - usd_per_call: 0.001\n")
    proc, _ = _make({"pricing_file": str(pricing), "watch_interval": "20ms"})
    await proc.start(StandaloneHost())
    try:
        new = tmp_path / "new.yaml"
        new.write_text("rules:\n  - usd_per_call: 0.003\n")
        os.replace(new, pricing)  # how config management tools write files
        for _ in range(200):  # bounded: at most ~4 s
            if [r.fixed for r in proc.rules] == [30]:
                break
            await asyncio.sleep(0.02)
        assert [r.fixed for r in proc.rules] == [30]
    finally:
        await proc.shutdown()
