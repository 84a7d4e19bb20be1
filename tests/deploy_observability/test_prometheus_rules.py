"""The shipped Prometheus rules (deploy/prometheus/rules): promtool accepts them, their unit
tests (deploy/prometheus/tests/hangar-otelcol.test.yaml) pass, and those tests cover every
recording rule with values and every alert both firing and not firing."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy_observability import promql
from tests.support.paths import REPO

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not installed (scripts/install-test-peers.sh: apt-get install prometheus)")

MONITORING_DOC = REPO / "docs" / "monitoring.md"


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, check=False)


@needs_promtool
def test_promtool_check_rules_accepts_every_rule() -> None:
    result = promtool("check", "rules", *map(str, promql.RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", result.stdout))
    assert found == len(promql.rules()) > 0, result.stdout


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(promql.RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_unit_tests_fail_on_a_wrong_value(tmp_path: Path) -> None:
    # the same tests with one expected value off by one must fail: the file tests values
    doc = promql.read(promql.RULES_TEST)
    doc["rule_files"] = [str(path) for path in promql.RULE_FILES]
    sample = doc["tests"][0]["promql_expr_test"][0]["exp_samples"][0]
    sample["value"] += 1
    broken = tmp_path / "broken.test.yaml"
    broken.write_text(yaml.safe_dump(doc))
    result = promtool("test", "rules", str(broken), cwd=tmp_path)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


def test_the_unit_tests_load_exactly_the_shipped_rule_files() -> None:
    doc = promql.read(promql.RULES_TEST)
    loaded = {(promql.RULES_TEST.parent / f).resolve() for f in doc["rule_files"]}
    assert loaded == {path.resolve() for path in promql.RULE_FILES}


def test_every_recording_rule_is_tested_with_values() -> None:
    doc = promql.read(promql.RULES_TEST)
    checked = {name
               for test in doc["tests"] for case in test.get("promql_expr_test", [])
               if case.get("exp_samples")
               for name in promql.metric_names(case["expr"])}
    assert promql.recorded() - checked == set()


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    doc = promql.read(promql.RULES_TEST)
    firing: set[str] = set()
    silent: set[str] = set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = {r["alert"] for r in promql.rules() if "alert" in r}
    assert len(alerts) >= 8
    assert (alerts - firing, alerts - silent) == (set(), set())
    assert (firing | silent) - alerts == set()  # no test of an alert that is not shipped


def test_every_alert_says_what_happened_and_what_to_do() -> None:
    anchors = {_anchor(line) for line in MONITORING_DOC.read_text().splitlines()
               if line.startswith("#")}
    for rule in promql.rules():
        if "alert" not in rule:
            continue
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        notes = rule["annotations"]
        assert set(notes) == {"summary", "description", "runbook"}, name
        # the runbook hint points at the alert's own section of docs/monitoring.md
        link = re.match(r"docs/monitoring\.md#([\w-]+): \S", notes["runbook"])
        assert link and link.group(1) == name.lower() and link.group(1) in anchors, name


def test_recording_rules_are_named_level_metric_operations() -> None:
    for name in promql.recorded():
        assert re.fullmatch(r"[a-z_]+:mcp_hangar_[a-z_]+:[a-z0-9_]+", name), name
    # the seed's three queries are recorded as written in the README
    exprs = {r["record"]: " ".join(r["expr"].split()) for r in promql.rules()
             if "record" in r}
    readme = " ".join((REPO / "README.md").read_text().split())
    for name in ("mcp_server:mcp_hangar_cost_cents:increase1h",
                 "tool:mcp_hangar_cost_cents:topk10_rate5m"):
        assert exprs[name] in readme, name
    assert exprs["mcp_server:mcp_hangar_cost_cents_per_attribution:ratio_rate5m"] == (
        "sum(rate(mcp_hangar_cost_cents_total[5m])) by (mcp_server) "
        "/ sum(rate(mcp_hangar_cost_attributions_total[5m])) by (mcp_server)")


def _anchor(heading: str) -> str:
    """The anchor GitHub makes of a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
