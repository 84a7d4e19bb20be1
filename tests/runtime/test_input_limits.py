"""Config and pricing input limits (issue 13): alias bombs, huge documents, absurd numbers,
bounded error messages. The bombs go through the real ``validate`` command in a subprocess
whose address space is capped, so a regression shows as a failure, not a swapped machine."""

from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hangar_otelcol.config import yamlsafe
from hangar_otelcol.config.loader import load
from hangar_otelcol.config.types import ConfigError, Duration, build, excerpt
from hangar_otelcol.exporters.compliance.config import ComplianceConfig
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.rules import RuleError, compile_rules
from hangar_otelcol.processors.cost.source import PricingFileError, load_pricing_file
from tests.support.paths import REPO

#: the address space a validate run may use: the bomb used 1.3 GB before the fix
MEMORY_CAP = 1024**3


def alias_bomb(levels: int = 7, width: int = 9, top: str = "a") -> str:
    """The issue's kind of document: each level a list of ``width`` aliases of the last."""
    lines = [f"{top}0: &{top}0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"{top}{i}: &{top}{i} [" + ", ".join([f"*{top}{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def validate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # the timeout is a hang guard, not a timing assertion
    return subprocess.run([sys.executable, "-m", "hangar_otelcol", "validate", *args],
                          capture_output=True, text=True, timeout=20, cwd=REPO,
                          preexec_fn=_cap_memory, env={**os.environ, **(env or {})})


# ----------------------------------------------------------------------------- the loader

def test_alias_bomb_config_is_refused_by_validate(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("receivers:\n  otlp: {}\n" + alias_bomb())
    assert len(config.read_bytes()) < 500
    result = validate("--config", str(config))
    assert result.returncode == 1, result.stderr
    out = result.stdout + result.stderr
    assert f"{config}: line " in out
    assert "alias expansion is limited" in out
    assert len(out) < 2000  # nothing expanded is printed


def test_many_aliases_are_refused_with_the_position() -> None:
    text = "a: &x 1\nb: [" + ", ".join(["*x"] * 150) + "]\n"
    with pytest.raises(yamlsafe.YamlLimitError) as exc:
        yamlsafe.load(text)
    assert yamlsafe.describe(exc.value, "config.yaml") == (
        "config.yaml: line 2, column 4: too many YAML aliases (more than 100): "
        "alias expansion is limited")


def test_few_aliases_with_a_big_expansion_are_refused() -> None:
    # 99 aliases, 11^9 nodes when expanded: the node budget catches what the count does not
    with pytest.raises(yamlsafe.YamlLimitError, match="after alias expansion"):
        yamlsafe.load(alias_bomb(levels=9, width=11))


def test_ordinary_anchors_and_merge_keys_still_work() -> None:
    data = yamlsafe.load("base: &b {timeout: 5s, retries: 3}\n"
                         "a: {<<: *b, retries: 4}\nb: *b\nlist: [*b, *b]\n")
    assert data["a"] == {"timeout": "5s", "retries": 4}
    assert data["list"] == [data["base"]] * 2


@pytest.mark.parametrize(("text", "problem"), [
    ("&a [*a]", "recursive YAML alias"),
    ("[" * 300 + "]" * 300, "nested more than 200 levels deep"),
    ("x: 1" + "0" * 5000, "cannot use a value"),
])
def test_other_hostile_documents(text: str, problem: str) -> None:
    with pytest.raises(yamlsafe.YamlLimitError, match=problem):
        yamlsafe.load(text)


def test_the_pure_python_composer_has_the_same_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "_Loader", yaml.SafeLoader)
    with pytest.raises(yamlsafe.YamlLimitError, match="alias expansion is limited"):
        yamlsafe.load(alias_bomb())
    assert yamlsafe.load("a: &x [1]\nb: *x\n") == {"a": [1], "b": [1]}


def test_document_and_file_size_are_bounded(tmp_path: Path) -> None:
    with pytest.raises(yamlsafe.YamlLimitError, match="larger than 100 bytes"):
        yamlsafe.load("x: " + "y" * 200, max_bytes=100)
    big = tmp_path / "big.yaml"
    big.write_text("x: " + "y" * (yamlsafe.MAX_BYTES + 10))
    with pytest.raises(ConfigError) as exc:
        load([str(big)])
    assert exc.value.errors == [f"{big}: larger than {yamlsafe.MAX_BYTES} bytes: YAML files "
                                "are limited"]


def test_env_values_and_set_go_through_the_same_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    # a ${env:...} value that is one reference is parsed as YAML: a bomb stays text
    monkeypatch.setenv("BOMB", "[" + alias_bomb().replace("\n", ", ") + "]")
    data = load(["yaml:x: ${env:BOMB}"])
    assert isinstance(data["x"], str)
    with pytest.raises(ConfigError, match="alias expansion is limited"):
        load([], sets=["x={" + alias_bomb().replace("\n", ", ") + "}"])


# ----------------------------------------------------------------------------- messages

def test_excerpt_is_bounded_for_every_kind_of_value() -> None:
    assert excerpt("short") == "'short'"
    long = excerpt("x" * 10_000_000)
    assert long.endswith("… (10000000 chars)") and len(long) < 110
    assert len(excerpt(list(range(10**6)))) < 110
    nested: list[object] = [1]
    for _ in range(50):
        nested = [nested] * 10  # shared: 10^50 leaves if walked
    assert len(excerpt(nested)) < 110
    assert excerpt(10**5000) == "an integer of about 5001 digits"
    assert excerpt(math.inf) == "inf"


def test_config_errors_quote_a_bounded_excerpt() -> None:
    with pytest.raises(ConfigError) as exc:
        build(ComplianceConfig, {"bom": "b" * 1_000_000, "x" * 100_000: 1},
              "exporters.compliance")
    # the key is quoted as an 80-char excerpt; the rest is the list of the known keys
    assert all(len(e) < 600 for e in exc.value.errors), exc.value.errors
    assert any("(1000000 chars)" in e for e in exc.value.errors)


# ----------------------------------------------------------------------------- numbers

@pytest.mark.parametrize("raw", [".inf", "-.inf", ".nan", "1.0e+400"])
def test_config_floats_must_be_finite(raw: str) -> None:
    from hangar_otelcol.exporterhelper import RetryConfig

    with pytest.raises(ConfigError) as exc:
        build(RetryConfig, {"multiplier": yamlsafe.load(raw)}, "retry_on_failure")
    assert exc.value.errors[0].startswith("retry_on_failure.multiplier: must be a finite "
                                          "number, got ")


@pytest.mark.parametrize("raw", [math.inf, math.nan, 1e300, "1e300h", "9" * 40 + "s"])
def test_durations_must_be_finite_and_sane(raw: object) -> None:
    with pytest.raises(ValueError, match=r"finite duration|invalid duration"):
        Duration.parse(raw)


@pytest.mark.parametrize(("value", "message"), [
    ("1e3000000", "must be a finite number between 0 and 1e9, got '1e3000000'"),
    (math.inf, "must be a finite number between 0 and 1e9, got inf"),
    (10**10, "must be a finite number between 0 and 1e9, got 10000000000"),
    (-1, "must not be negative, got -1"),
    ("-0.5", "must not be negative, got '-0.5'"),
    ("1e-40", "at most 30 significant digits and none below 1e-30, got '1e-40'"),
])
def test_absurd_prices_are_refused(value: object, message: str) -> None:
    rules = [{"usd_per_minute": 1}, {}, {}, {"usd_per_call": value}]
    with pytest.raises(RuleError) as exc:
        compile_rules(rules)
    assert exc.value.errors == [f"rules[3].usd_per_call: {message}"]


def test_a_price_at_the_bound_is_kept() -> None:
    (rule,) = compile_rules([{"usd_per_call": 10**9}])
    assert rule.fixed == 10**13


def test_1e3000000_in_a_pricing_file_is_refused(tmp_path: Path) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text("rules:\n  - usd_per_call: 1e3000000\n")
    with pytest.raises(ConfigError) as exc:
        build(CostConfig, {"pricing_file": str(pricing)}, "processors.mcp_cost")
    assert exc.value.errors == [
        f"processors.mcp_cost.pricing_file: {pricing}: rules[0].usd_per_call: must be a "
        "finite number between 0 and 1e9, got '1e3000000'"]


# ----------------------------------------------------------------------------- pricing

def test_pricing_bomb_is_refused_with_a_short_message(tmp_path: Path) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text(alias_bomb(top="p") + "rules:\n  - {tool_name: *p6, usd_per_call: 1}\n")
    with pytest.raises(PricingFileError) as exc:
        load_pricing_file(str(pricing))
    assert "alias expansion is limited" in str(exc.value) and len(str(exc.value)) < 300


def test_pricing_bomb_is_refused_by_validate(tmp_path: Path) -> None:
    pricing = tmp_path / "pricing.yaml"
    pricing.write_text(alias_bomb(top="p") + "rules:\n  - {tool_name: *p6, usd_per_call: 1}\n")
    result = validate(env={"HANGAR_PRICING_FILE": str(pricing)})
    assert result.returncode == 1, result.stderr
    out = result.stdout + result.stderr
    assert "processors.mcp_cost.pricing_file" in out and "alias expansion is limited" in out
    assert len(out) < 2000


async def test_pricing_reload_parses_off_the_event_loop(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from hangar_otelcol.component import Kind
    from hangar_otelcol.processors.cost import processor as cost_processor
    from hangar_otelcol.processors.cost.factory import FACTORY
    from hangar_otelcol.testing import CollectingConsumer, make_settings

    pricing = tmp_path / "pricing.yaml"
    pricing.write_text("rules:\n  - usd_per_call: 0.001\n")
    config = build(CostConfig, {"pricing_file": str(pricing), "watch_interval": 0})
    proc = FACTORY.create(make_settings(Kind.PROCESSOR, "mcp_cost"), config, None,
                          CollectingConsumer())
    threads: list[int] = []
    real = cost_processor.load_pricing_file

    def spy(path: str, currency: str = "USD") -> object:
        threads.append(threading.get_ident())
        return real(path, currency)

    monkeypatch.setattr(cost_processor, "load_pricing_file", spy)
    pricing.write_text("rules:\n  - usd_per_call: 0.002\n")
    await proc.reload()
    assert threads and threads[0] != threading.get_ident()
    assert [r.fixed for r in proc.rules] == [20]
