"""What the shipped dashboard and rules query: their PromQL, and the metric names in it.

``metric_names`` tokenizes PromQL (strings, ranges, durations and Grafana's ``$variables``
first, so that nothing inside them is read as a name) and keeps the identifiers that are
neither keywords, functions, aggregations nor label names (inside ``{...}`` or after
``by``/``without``/``on``/``ignoring``/``group_left``/``group_right``). Names keep their
suffixes: they are compared with the sample names on /metrics, which is what Prometheus
stores (``mcp_hangar_tool_call_duration_seconds_bucket`` is a histogram's bucket sample,
``mcp_hangar_cost_cents_total`` a counter's).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import REPO

DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "hangar-otelcol.json"
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
RULE_FILES = sorted(RULES_DIR.glob("*.yaml"))
RULES_TEST = REPO / "deploy" / "prometheus" / "tests" / "hangar-otelcol.test.yaml"

#: series Prometheus makes itself for every target (not the gateway's)
PROMETHEUS_OWN = frozenset({"up"})

_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<variable>\$\{[^}]*\}|\$\w+)
  | (?P<range>\[[^\]]*\])
  | (?P<number>(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:ms|[smhdwy])*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<open>[({])
  | (?P<close>[)}])
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE)

#: an identifier followed by "(" that opens a list of label names, not an expression
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = _LABEL_LISTS | frozenset({
    "and", "or", "unless", "offset", "bool", "atan2", "inf", "nan", "start", "end",
    # aggregation operators, which may be followed by "by (...)" instead of "("
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio"})

#: a Grafana variable query: label_values(<selector>, <label>)
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*(?P<label>\w+)\s*\)\s*$",
                           re.DOTALL)


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (recording-rule names included)."""
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(expr)]
    tokens = [t for t in tokens if t[0] != "space"]
    names: set[str] = set()
    # one entry per open bracket: True when what it holds are label names
    stack: list[bool] = []
    for i, (kind, text) in enumerate(tokens):
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        previous = tokens[i - 1][1] if i else ""
        if kind == "open":
            stack.append(text == "{" or previous in _LABEL_LISTS)
        elif kind == "close":
            if stack:
                stack.pop()
        elif kind == "ident" and not (stack and stack[-1]):
            if text in _KEYWORDS or following == "(":
                continue  # a keyword, an aggregation or a function call
            names.add(text)
    return names


def variable_selector(query: str) -> tuple[str, str] | None:
    """(selector, label) of a ``label_values(selector, label)`` variable query."""
    m = _LABEL_VALUES.match(query)
    return (m.group("selector"), m.group("label")) if m else None


@dataclass(frozen=True)
class Query:
    where: str  # "panel 6 'Cost per MCP server' A", "rule HangarGatewayDown", ...
    expr: str


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside rows included, rows themselves too."""
    out = []
    for panel in doc.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_queries(doc: dict[str, Any]) -> list[Query]:
    """Every panel target's expr."""
    return [Query(f"panel {p['id']} {p.get('title')!r} {t.get('refId')}", t["expr"])
            for p in dashboard_panels(doc) for t in p.get("targets", [])]


def variable_queries(doc: dict[str, Any]) -> list[Query]:
    """The selectors of the dashboard's query variables (label_values(selector, label))."""
    out = []
    for var in doc["templating"]["list"]:
        if var["type"] == "query":
            found = variable_selector(var["query"])
            assert found, f"variable {var['name']}: not label_values(...): {var['query']!r}"
            out.append(Query(f"variable {var['name']}", found[0]))
    return out


def rules() -> list[dict[str, Any]]:
    """Every rule of every shipped rule file."""
    return [rule for path in RULE_FILES
            for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


def rule_queries() -> list[Query]:
    return [Query(f"rule {r.get('record') or r.get('alert')}", r["expr"]) for r in rules()]


def recorded() -> set[str]:
    """The names the shipped recording rules define."""
    return {r["record"] for r in rules() if "record" in r}


def all_queries() -> list[Query]:
    doc = dashboard()
    return dashboard_queries(doc) + variable_queries(doc) + rule_queries()


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
