"""Smoke run of the benchmark suite (``python -m bench --quick``): every scenario runs for a
fraction of a second and every figure the issue asks for is produced. No timing
assertions: the figures must exist and be plausible, not fast."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO


def test_quick_bench_produces_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=REPO,
        capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    from bench.scenarios import SCENARIOS

    results = {r["scenario"]: r for r in data["results"]}
    assert set(results) == {s.name for s in SCENARIOS}, proc.stdout
    for name, floor in data["floors"].items():
        assert floor > 0, name
    for name, r in results.items():
        assert not r["note"].startswith("failed"), (name, r["note"])
        assert r["per_core_median"] > 0 and r["wall_median"] > 0, (name, r)
        assert r["ratio_to_floor"] > 0, (name, r)
        if r["config"] is not None:
            # the gateway stopped cleanly after its run (workers included)
            assert r["gateway_exit_code"] == 0, (name, r["note"])
            assert r["peak_rss_mib"] > 10, name
        if r["config"] in ("passthrough.yaml", "enrich.yaml"):
            # everything the gateway acknowledged reached the sink, once
            assert r["acked_items"] == r["delivered_items"] > 0, (name, r)
        if r["target"] is not None:
            assert r["verdict"] in ("met", "MISSED"), (name, r)
    for name in ("latency-direct", "latency-enrich", "rss-10k"):
        r = results[name]
        assert r["latency_samples"] > 0, name
        assert math.isfinite(r["p50_ms"]) and r["p99_ms"] >= r["p50_ms"] > 0, (name, r)
    assert results["workers-2"]["processes"] == 3  # supervisor + 2 workers
    assert results["workers-2"]["scaling"] > 0
    assert abs(results["latency-enrich"]["rate_spans_per_s"]
               - results["enrich-grpc-512"]["wall_median"] / 2) <= 1
    # the printed table names every scenario and the floor
    for name in results:
        assert name in proc.stdout
    assert "protobuf floor" in proc.stdout
