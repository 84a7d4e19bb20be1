"""The prometheus exporter: exact counts from the captures, exposition formats, bounds."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hangar_otelcol.pdata import Sender
from tests.exporters.prometheus import chain as gc
from tests.support.metrics import fetch_metrics, samples, series


@pytest.mark.parametrize("version", ["1.1.0", "1.6.3", "2.34.4"])
async def test_counters_equal_hand_computed_totals(tmp_path: Path, version: str) -> None:
    chain = gc.Chain(tmp_path, {"endpoint": "127.0.0.1:0", "per_caller": True})
    await chain.exporter.start(chain.host)
    try:
        await chain.replay(version)
        _, text = await fetch_metrics(chain.exporter.port)
    finally:
        await chain.exporter.shutdown()
    got = samples(text)
    exp = gc.EXPECTED[version]
    calls = {(dict(k[1])["tool"], dict(k[1])["status"]): v for k, v in got.items()
             if k[0] == "mcp_hangar_tool_calls_total"}
    assert calls == exp["calls"]  # exactly one per call: no double count
    for tool, cents in exp["cost"].items():
        assert series(got, "mcp_hangar_cost_cents_total", mcp_server="math", tool=tool,
                      cost_model="fixed") == cents
        n = sum(v for (t, st), v in exp["calls"].items() if t == tool and st == "success")
        assert series(got, "mcp_hangar_cost_attributions_total", mcp_server="math",
                      tool=tool) == n
    assert sum(v for k, v in got.items() if k[0] == "mcp_hangar_cost_cents_total") == \
        sum(exp["cost"].values())
    errors = {(dict(k[1])["tool"], dict(k[1])["error_type"]): v for k, v in got.items()
              if k[0] == "mcp_hangar_tool_call_errors_total"}
    assert errors == exp["errors"]
    assert series(got, "mcp_hangar_tool_call_duration_seconds_count", mcp_server="math",
                  tool="add") == 3
    assert series(got, "mcp_hangar_tool_call_duration_seconds_bucket", mcp_server="math",
                  tool="add", le="+Inf") == 3
    # "how much did alice spend": per-caller series
    assert sum(v for k, v in got.items() if k[0] == "mcp_hangar_caller_cost_cents_total"
               and ("caller_id", "alice") in k[1]) == sum(exp["cost"].values())
    assert sum(v for k, v in got.items() if k[0] == "mcp_hangar_caller_tool_calls_total"
               and ("caller_type", "human") in k[1]) == 6


async def test_text_and_openmetrics(tmp_path: Path) -> None:
    chain = gc.Chain(tmp_path, {"endpoint": "127.0.0.1:0"})
    await chain.exporter.start(chain.host)
    try:
        await chain.replay("2.34.4")
        ctype, text = await fetch_metrics(chain.exporter.port)
        assert ctype.startswith("text/plain; version=0.0.4")
        assert "# TYPE mcp_hangar_cost_cents_total counter" in text or \
               "# TYPE mcp_hangar_cost_cents counter" in text
        assert ('mcp_hangar_cost_cents_total{cost_model="fixed",mcp_server="math",'
                'tool="multiply"} 50.0') in text
        ctype, om = await fetch_metrics(chain.exporter.port,
                                 "application/openmetrics-text; version=1.0.0")
        assert ctype.startswith("application/openmetrics-text")
        assert om.rstrip().endswith("# EOF")
        assert ('mcp_hangar_cost_attributions_total{mcp_server="math",tool="add"} 3.0'
                in om)
    finally:
        await chain.exporter.shutdown()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed "
                    "(apt-get install prometheus)")
async def test_promtool_check_metrics_is_clean(tmp_path: Path) -> None:
    chain = gc.Chain(tmp_path, {"endpoint": "127.0.0.1:0", "per_caller": True})
    await chain.exporter.start(chain.host)
    try:
        for version in ("1.1.0", "1.6.3", "2.34.4"):
            await chain.replay(version)
        _, text = await fetch_metrics(chain.exporter.port)
    finally:
        await chain.exporter.shutdown()
    result = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


async def test_series_stay_bounded(tmp_path: Path) -> None:
    chain = gc.Chain(tmp_path, {"endpoint": "127.0.0.1:0", "per_caller": True,
                                "caller_limit": 2, "max_series": 3})
    await chain.exporter.start(chain.host)
    for i in range(5):  # five different callers, each a full 1.6.3 run
        await chain.replay("1.6.3", Sender("grpc", "127.0.0.1", {"x-user-id": f"user{i}"}),
                           run=i)
    await chain.exporter.shutdown()
    m = chain.exporter.metrics
    assert set(m.callers) == {"user0", "user1"}
    callers = {k[3] for k in m.caller_calls.values}
    assert callers <= {"user0", "user1", "__other__"} and "__other__" in callers
    assert len(m.calls.values) <= 4  # 3 label sets + the fold-over series
    assert sum(m.calls.values.values()) == 30  # folding loses no count


async def test_known_tools_start_at_zero(tmp_path: Path) -> None:
    chain = gc.Chain(tmp_path, {"endpoint": "127.0.0.1:0", "known_tools": [
        {"mcp_server": "math", "tool": "add", "cost_model": "fixed"}]})
    await chain.exporter.start(chain.host)
    try:
        _, text = await fetch_metrics(chain.exporter.port)
    finally:
        await chain.exporter.shutdown()
    got = samples(text)
    assert got[("mcp_hangar_cost_cents_total", frozenset(
        {"mcp_server": "math", "tool": "add", "cost_model": "fixed"}.items()))] == 0


async def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    chain = gc.Chain(tmp_path, {"endpoint": "127.0.0.1:0"})
    await chain.exporter.start(chain.host)
    try:
        other = gc.Chain(tmp_path, {"endpoint": f"127.0.0.1:{chain.exporter.port}"})
        with pytest.raises(OSError, match=r"cannot listen for prometheus metrics on "
                           r"127\.0\.0\.1:\d+: .*address already in use"):
            await other.exporter.start(other.host)
    finally:
        await chain.exporter.shutdown()
