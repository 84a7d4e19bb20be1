"""Cardinality (issue 13): label values cut to max_label_value_length, series kept by
recency under max_series with the evicted ones folded into __other__ (the sum over a
family stays the total of every call), metric_expiration, a scrape that does not stop
the event loop. A real exporter fed hangar 2.34.4 audit records, scraped over HTTP."""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.exporters.prometheus.config import PrometheusConfig
from hangar_otelcol.exporters.prometheus.factory import FACTORY
from hangar_otelcol.pdata import Batch, Signal, decode
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.support import workload
from tests.support.durable import DurableExporter
from tests.support.metrics import Samples, fetch_metrics, samples, series
from tests.support.waiting import eventually

CALLS = "mcp_hangar_tool_calls_total"
CALLER_CALLS = "mcp_hangar_caller_tool_calls_total"
COST = "mcp_hangar_cost_cents_total"
CENTS = 10  # every call here costs 10 hundredths of a cent


class Calls:
    """Numbered audit records with the tool, server and caller given."""

    def __init__(self) -> None:
        self.n = 0

    def batch(self, calls: list[tuple[str, str, str]]) -> Batch:
        """``calls``: (server, tool, caller id) each."""
        req = workload.calls_request(self.n, len(calls))
        self.n += len(calls)
        for record, (server, tool, caller) in zip(
                req.resource_logs[0].scope_logs[0].log_records, calls, strict=True):
            for kv in record.attributes:
                if kv.key == "gen_ai.tool.name":
                    kv.value.string_value = tool
                elif kv.key == "mcp.server.id":
                    kv.value.string_value = server
            for key, value in (("mcp.caller.type", "service"), ("mcp.caller.id", caller),
                               ("mcp.cost.model", "fixed")):
                kv = record.attributes.add()
                kv.key, kv.value.string_value = key, value
            kv = record.attributes.add()
            kv.key, kv.value.int_value = "mcp.cost.cents", CENTS
        return Batch(Signal.LOGS, [decode(Signal.LOGS, req.SerializeToString())])


async def started(raw: dict[str, Any]) -> Any:
    exporter = FACTORY.create(make_settings(Kind.EXPORTER, "prometheus", Telemetry()),
                              build(PrometheusConfig, {"endpoint": "127.0.0.1:0",
                                                       "count_spans": False, **raw}))
    await exporter.start(StandaloneHost())
    return exporter


async def scraped(exporter: Any) -> tuple[str, Samples]:
    _, text = await fetch_metrics(exporter.port)
    return text, samples(text)


def family(got: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in got.items() if n == name}


def promtool_check(text: str) -> None:
    if shutil.which("promtool") is None:
        return  # the tests that need it skip; elsewhere it is an extra check
    result = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


async def test_a_long_label_value_is_cut(tmp_path: Path) -> None:
    exporter = await started({"per_caller": True, "max_label_value_length": 64})
    calls = Calls()
    try:
        huge = "t" * (1 << 20)  # a 1 MiB tool name
        await exporter.consume(calls.batch([("math", huge, "c" * 100_000),
                                            ("math", huge + "x", "ci-bot"),
                                            ("math", "add", "ci-bot")]))
        text, got = await scraped(exporter)
    finally:
        await exporter.shutdown()
    assert len(text) < 16_384  # not megabytes
    tools = {dict(labels)["tool"]: v for labels, v in family(got, CALLS).items()}
    cut = "t" * 63 + "…"
    # both long names share the cut value (the first 63 characters are the same)
    assert tools == {cut: 2, "add": 1}
    assert all(len(dict(labels)[k]) <= 64 for (_, labels) in got for k in dict(labels))
    assert series(got, CALLER_CALLS, mcp_server="math", tool=cut, caller_type="service",
                  caller_id="c" * 63 + "…") == 1
    truncated = exporter.telemetry.telemetry.counter(
        "otelcol_exporter_prometheus_truncated_labels_total", "", ())
    assert truncated.get(("prometheus", "tool")) == 2
    assert truncated.get(("prometheus", "caller_id")) == 1
    promtool_check(text)


async def test_a_steady_series_keeps_its_own_label_through_a_flood() -> None:
    """The invariant: a series updated again before max_series new label sets arrived
    keeps its own series, with its exact count; one-shot names take each other's place
    and end up in __other__; per family, the sum over every series (__other__ included)
    is the number of calls."""
    cap = 100
    exporter = await started({"per_caller": True, "max_series": cap, "caller_limit": 10})
    calls, rng = Calls(), random.Random(13)
    steady = ("math", "add", "ci-bot")
    total = 0
    try:
        await exporter.consume(calls.batch([steady] * 2))  # there before the flood
        total += 2
        # 5,000 one-shot names, 250 between two calls of math/add (more than the cap):
        # a least-recently-used cap alone would have evicted it; math/multiply by cron
        # starts during the flood, every 50 names
        for i in range(20):
            names = [("flood", f"tool-{rng.getrandbits(64):016x}", "ci-bot")
                     for _ in range(250)]
            for j in range(0, 250, 50):
                names.insert(j + j // 50, ("math", "multiply", "cron"))
            await exporter.consume(calls.batch([steady, *names]))
            total += 1 + len(names)
            if i == 10:  # a scrape in the middle changes nothing
                await scraped(exporter)
        assert await exporter.idle(5)
        text, got = await scraped(exporter)
    finally:
        await exporter.shutdown()
    assert series(got, CALLS, mcp_server="math", tool="add", status="success") == 22
    assert series(got, CALLS, mcp_server="math", tool="multiply", status="success") == 100
    assert series(got, CALLER_CALLS, mcp_server="math", tool="add", caller_type="service",
                  caller_id="ci-bot") == 22
    assert series(got, COST, mcp_server="math", tool="add", cost_model="fixed") == 22 * CENTS
    assert series(got, CALLS, mcp_server="__other__", tool="__other__",
                  status="__other__") > 0
    for name, per_call in ((CALLS, 1), (CALLER_CALLS, 1), (COST, CENTS),
                           ("mcp_hangar_cost_attributions_total", 1),
                           ("mcp_hangar_tool_call_duration_seconds_count", 1)):
        fam = family(got, name)
        assert len(fam) <= cap + 1, name  # the cap and __other__
        assert sum(fam.values()) == total * per_call, name
    removed = exporter.telemetry.telemetry.counter(
        "otelcol_exporter_prometheus_series_removed_total", "", ())
    assert removed.get(("prometheus", "evicted")) > 0
    promtool_check(text)


async def test_idle_series_expire() -> None:
    exporter = await started({"metric_expiration": "1s"})
    calls = Calls()
    try:
        await exporter.consume(calls.batch([("math", "idle", "a")]))
        start = time.monotonic()
        steady = 0

        async def idle_gone() -> bool:
            nonlocal steady
            await exporter.consume(calls.batch([("math", "add", "a")]))
            steady += 1
            _, got = await scraped(exporter)
            return series(got, CALLS, mcp_server="math", tool="idle", status="success") == 0

        _, got = await scraped(exporter)
        assert series(got, CALLS, mcp_server="math", tool="idle", status="success") == 1
        await eventually(idle_gone, 10, "the idle series to expire", interval=0.2)
        assert time.monotonic() - start >= 1.0  # not before metric_expiration
        _, got = await scraped(exporter)
        assert series(got, CALLS, mcp_server="math", tool="add", status="success") == steady
        # back after it expired: a new series from 0 (a counter reset for Prometheus)
        await exporter.consume(calls.batch([("math", "idle", "a")]))
        _, got = await scraped(exporter)
        assert series(got, CALLS, mcp_server="math", tool="idle", status="success") == 1
    finally:
        await exporter.shutdown()


async def test_an_expired_series_leaves_the_saved_counters(tmp_path: Path) -> None:
    raw = {"endpoint": "127.0.0.1:0", "count_spans": False, "metric_expiration": "1s"}
    calls = Calls()
    first = await DurableExporter(FACTORY, tmp_path, dict(raw)).start()
    await first.exporter.consume(calls.batch([("math", "idle", "a")]))
    assert await first.exporter.idle(5)

    async def idle_gone() -> bool:
        await first.exporter.consume(calls.batch([("math", "add", "a")]))
        got = samples((await fetch_metrics(first.exporter.port))[1])
        return series(got, CALLS, mcp_server="math", tool="idle", status="success") == 0

    await eventually(idle_gone, 10, "the idle series to expire", interval=0.2)
    assert await first.exporter.idle(5)
    await first.stop()
    second = await DurableExporter(FACTORY, tmp_path, dict(raw)).start()
    try:
        got = samples((await fetch_metrics(second.exporter.port))[1])
        assert series(got, CALLS, mcp_server="math", tool="idle", status="success") == 0
        assert series(got, CALLS, mcp_server="math", tool="add", status="success") > 0
    finally:
        await second.stop()


async def test_a_scrape_at_the_cap_does_not_stop_the_event_loop() -> None:
    cap = 10_000
    exporter = await started({"max_series": cap})
    calls = Calls()
    try:
        for first in range(0, cap, 1000):
            await exporter.consume(calls.batch(
                [("math", f"tool-{i:05d}-" + "x" * 100, "a") for i in range(first,
                                                                             first + 1000)]))
        gaps: list[float] = []
        done = False

        async def ticker() -> None:
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        _, text = await fetch_metrics(exporter.port)
        took = time.perf_counter() - start
        done = True
        await task
    finally:
        await exporter.shutdown()
    assert text.count("mcp_hangar_tool_calls_total{") == cap
    # the page is rendered in a thread: the loop kept running (well under the render)
    assert max(gaps) < max(0.25, took / 2), (max(gaps), took)
    assert len(text) < cap * 20 * 300  # bounded: ~20 lines per label set, short labels


@pytest.mark.parametrize("bad", [{"max_label_value_length": 0}, {"max_series": 0},
                                 {"metric_expiration": "-1s"}])
def test_config_errors_name_the_key(bad: dict[str, Any]) -> None:
    key = next(iter(bad))
    try:
        config = build(PrometheusConfig, bad, "exporters.prometheus")
    except Exception as exc:  # a value the type refuses
        assert key in str(exc)
        return
    assert any(e.startswith(f"{key}:") for e in config.validate()), config.validate()
