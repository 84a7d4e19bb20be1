"""Pricing rules: hangar's DefaultCostAttributor semantics and the units people think in."""

from __future__ import annotations

import json

import pytest

from hangar_otelcol.processors.cost.rules import RuleError, RuleSet, compile_rules
from tests.support import captures as hc
from tests.support.paths import REPO

# hangar-contract.md §7, in this order
CONTRACT_RULES = [
    {"mcp_server_id": "*", "tool_name": "*", "model": "duration", "cost_per_ms_cents": 0.5},
    {"mcp_server_id": "math", "tool_name": "*", "model": "fixed", "fixed_cost_cents": 25},
    {"mcp_server_id": "*", "tool_name": "summarize", "model": "token",
     "cost_per_input_token_cents": 0.3, "cost_per_output_token_cents": 1.5},
    {"mcp_server_id": "llm", "tool_name": "summarize", "model": "composite",
     "cost_per_input_token_cents": 0.3, "cost_per_output_token_cents": 1.5,
     "cost_per_ms_cents": 0.01, "fixed_cost_cents": 10},
    {"mcp_server_id": "llm", "tool_name": "summarize", "model": "fixed", "fixed_cost_cents": 999},
]
CONTRACT_CASES = [  # server, tool, ms, in, out -> cents, model
    ("math", "add", 12.7, 0, 0, 25, "fixed"),
    ("other", "echo", 12.7, 0, 0, 6, "duration"),
    ("other", "echo", 1.99, 0, 0, 0, "duration"),
    ("docs", "summarize", 800.0, 1200, 350, 885, "token"),
    ("llm", "summarize", 812.4, 1200, 350, 903, "composite"),
    ("llm", "summarize", 812.4, 0, 0, 18, "composite"),
]


@pytest.mark.parametrize(("server", "tool", "ms", "inp", "out", "cents", "model"),
                         CONTRACT_CASES)
def test_contract_worked_examples(server: str, tool: str, ms: float, inp: int, out: int,
                                  cents: int, model: str) -> None:
    rule = RuleSet(compile_rules(CONTRACT_RULES)).match(server, tool)
    assert rule is not None
    assert (rule.cost(inp, out, ms), rule.model) == (cents, model)


def test_real_hangar_outputs_reproduced() -> None:
    doc = json.loads(hc.path("v1.1.0/library/cost_examples.json").read_text())
    rules = RuleSet(compile_rules(doc["rules"]))
    checked = 0
    for case in doc["results"]:
        i, o = case["input"], case["output"]
        if "note" in i:
            continue  # produced with an empty rule list
        rule = rules.match(i["mcp_server_id"], i["tool_name"])
        got = rule.cost(i.get("input_tokens", 0), i.get("output_tokens", 0), i["duration_ms"])
        assert (got, rule.model, rule.currency) == (o["cost_cents"], o["cost_model"],
                                                    o["currency"])
        checked += 1
    assert checked == 6
    assert RuleSet([]).match("math", "add") is None  # "no rule matches": cost 0


def test_seed_units_are_exact() -> None:
    rules = compile_rules([
        {"tool_name": "chat", "usd_per_1k_input_tokens": 0.003},
        {"tool_name": "exec", "usd_per_minute": 0.01},
        {"tool_name": "geocode", "usd_per_call": 0.005},
        {"tool_name": "llm", "usd_per_1k_input_tokens": 0.003,
         "usd_per_1k_output_tokens": "0.015", "usd_per_call": 0.001},
    ])
    chat, exe, geo, comp = rules
    assert (chat.model, exe.model, geo.model, comp.model) == (
        "token", "duration", "fixed", "composite")
    assert chat.cost(1000, 0, None) == 30          # $0.003 = 30 hundredths of a cent
    assert chat.cost(333, 0, None) == 9            # 9.99 truncated
    assert exe.cost(0, 0, 60_000.0) == 100         # one minute = $0.01
    assert exe.cost(0, 0, 59_999.0) == 99          # 99.998... truncated, no float drift
    assert exe.cost(0, 0, 6.0) == 0
    assert geo.cost(0, 0, 123.0) == 50
    assert comp.cost(2000, 1000, 5.0) == 60 + 150 + 10


def test_float_drift_does_not_lose_a_unit() -> None:
    # 0.1 * 3 is 0.30000000000000004 in floats and 0.7 * 10 is 7.000000000000001; what the
    # user wrote is exact here, so the truncation gives the true integer
    (rule,) = compile_rules([{"model": "token", "cost_per_input_token_cents": 0.7}])
    assert rule.cost(10, 0, None) == 7
    (rule,) = compile_rules([{"model": "duration", "cost_per_ms_cents": 0.29}])
    assert rule.cost(0, 0, 100.0) == 29


def test_precedence_and_first_rule_wins_a_tie() -> None:
    rs = RuleSet(compile_rules([
        {"fixed_cost_cents": 1},
        {"tool_name": "add", "fixed_cost_cents": 2},
        {"mcp_server_id": "math", "fixed_cost_cents": 3},
        {"mcp_server_id": "math", "tool_name": "add", "fixed_cost_cents": 4},
        {"mcp_server_id": "math", "tool_name": "add", "fixed_cost_cents": 5},
        {"mcp_server_id": "Math", "fixed_cost_cents": 6},
    ]))
    assert rs.match("math", "add").fixed == 4
    assert rs.match("math", "sub").fixed == 3
    assert rs.match("other", "add").fixed == 2
    assert rs.match("other", "x").fixed == 1
    assert rs.match("MATH", "x").fixed == 1  # case-sensitive, no globbing
    assert rs.match(None, "add").fixed == 2


def test_errors_name_rule_index_and_key() -> None:
    with pytest.raises(RuleError) as exc:
        compile_rules([
            {"fixed_cost_cents": 1},
            {"model": "tokens"},
            {"usd_per_minute": "ten"},
            {"model": "token", "usd_per_call": 0.1},
            {"usd_per_call": 0.1, "fixed_cost_cents": 3},
            {"cost_per_ms_cents": -1},
            {"tool": "add"},
            {"currency": "EUR", "usd_per_call": 1},
            "not a rule",
        ])
    errors = exc.value.errors
    assert "rules[1].model: must be one of token, duration, fixed, composite; got 'tokens'" \
        in errors
    assert "rules[2].usd_per_minute: expected a number, got 'ten'" in errors
    assert any(e.startswith("rules[3].usd_per_call: not used by model token") for e in errors)
    assert any(e.startswith("rules[4].") and "conflicts with" in e for e in errors)
    assert "rules[5].cost_per_ms_cents: must not be negative, got -1" in errors
    assert any(e.startswith("rules[6].tool: unknown key") for e in errors)
    assert any(e.startswith("rules[7].usd_per_call: the rule's currency is EUR") for e in errors)
    assert "rules[8]: expected a mapping, got str" in errors
    assert not any(e.startswith("rules[0]") for e in errors)


def test_other_currency() -> None:
    (rule,) = compile_rules([{"currency": "EUR", "price_per_call": "0.02"}], "USD")
    assert (rule.currency, rule.cost(0, 0, None)) == ("EUR", 200)


def test_example_pricing_file_loads_with_the_seed_prices() -> None:
    from hangar_otelcol.processors.cost.source import load_pricing_file
    path = REPO / "config/pricing.example.yaml"
    rs = RuleSet(load_pricing_file(str(path)))
    assert rs.match("openai-tools", "chat").cost(1000, 0, None) == 30     # $0.003
    assert rs.match("sandbox", "exec").cost(0, 0, 60_000.0) == 100        # $0.01/minute
    assert rs.match("geo", "geocode").cost(0, 0, 1.0) == 50               # $0.005
    assert rs.match("llm", "summarize").cost(1000, 0, 9.0) == 40          # 30 + 10
    assert rs.match("math", "add").cost(0, 0, 1.0) == 25
    assert rs.match("x", "y").cost(0, 0, 1.0) == 1
