"""Smoke run of the benchmark suite (``python -m bench --quick``): every scenario runs for a
fraction of a second and every figure the issue asks for is produced, next to the
OpenTelemetry Collector's on the scenario's twin config when the test peer is built (else
the Collector columns say why). No timing assertions: the figures must exist and be
plausible, not fast."""

from __future__ import annotations

import json
import math
import os
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
    _check_collector_twins(data, results, proc.stdout)


def _check_collector_twins(data: dict, results: dict, stdout: str) -> None:
    peer = data["collector_peer"]
    assert "side by side with the OpenTelemetry Collector" in stdout
    if os.environ.get("HANGAR_OTELCOL_PEER_BIN"):  # scripts/test.sh built it: it must be used
        assert peer["path"] == os.environ["HANGAR_OTELCOL_PEER_BIN"], peer
    for name, r in results.items():
        if not r["collector_configs"]:
            assert r["collector"] is None and r["collector_note"], name  # says why not
            continue
        if peer["path"] is None:
            assert r["collector"] is None, name
            assert r["collector_note"] == f"absent: {peer['reason']}", (name, r)
            continue
        twin = r["collector"]
        assert twin is not None, (name, r["collector_note"])
        assert twin["side"] == "otelcol" and not twin["note"], (name, twin["note"])
        assert twin["per_core_median"] > 0 and twin["wall_median"] > 0, (name, twin)
        assert twin["gateway_exit_code"] == 0, (name, twin)
        assert twin["peak_rss_mib"] > 10, name
        assert math.isclose(r["ratio_to_collector"],
                            r["per_core_median"] / twin["per_core_median"], rel_tol=1e-3), name
        if r["config"] in ("passthrough.yaml", "enrich.yaml"):
            # the same 1:1 check as ours: what the Collector acknowledged reached the sink
            assert twin["acked_items"] == twin["delivered_items"] > 0, (name, twin)
        if r["rate_spans_per_s"]:  # the same offered load as ours
            assert twin["rate_spans_per_s"] == r["rate_spans_per_s"], name
            assert twin["latency_samples"] > 0, name
    if peer["path"] is None:
        assert f"absent ({peer['reason']})" in stdout
