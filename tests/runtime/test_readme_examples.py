"""The README's pricing examples, computed by the real rules engine on the shipped file."""

from __future__ import annotations

import pytest
import yaml

from hangar_otelcol.processors.cost.rules import RuleSet, compile_rules
from tests.support.paths import REPO


@pytest.mark.parametrize(("server", "tool", "ms", "tokens_in", "cents", "model"), [
    ("openai-tools", "chat", 800.0, 1200, 36, "token"),      # 1200 x $0.003/1K
    ("sandbox", "exec", 90_000.0, 0, 150, "duration"),        # 1.5 min x $0.01/min
    ("geo", "geocode", 12.0, 0, 50, "fixed"),                 # $0.005 per call
])
def test_readme_pricing_examples(server: str, tool: str, ms: float, tokens_in: int, cents: int,
                                 model: str) -> None:
    data = yaml.safe_load((REPO / "config" / "pricing.example.yaml").read_text())
    rule = RuleSet(compile_rules(data["rules"])).match(server, tool)
    assert rule is not None
    assert rule.model == model
    assert rule.cost(tokens_in, 0, ms) == cents
