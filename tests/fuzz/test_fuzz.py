"""Fuzzing in the test suite: every corpus input of every target, then inputs hypothesis
derives from them (byte flips, insertions, deletions, duplications, splices), then
structured OTLP/JSON audit records with hostile values. A short run by default;
HANGAR_FUZZ_EXAMPLES=20000 for a longer one, scripts/fuzz.sh for coverage-guided runs with
atheris (docs/security.md, "Fuzzing").

A target raises only on a bug (tests/fuzz/targets.py): a crash or a broken invariant fails
the test with the input hypothesis shrank it to.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import CORPUS, MAX_INPUT, SIGNALS, TARGETS, corpus

EXAMPLES = int(os.environ.get("HANGAR_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get(
    "HANGAR_FUZZ_RANDOM"), suppress_health_check=list(HealthCheck), database=None)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_corpus_input_is_handled(target: str) -> None:
    seeds = corpus(target)
    assert seeds, f"tests/testdata/fuzz/{target} is empty (python -m tests.fuzz.make_corpus)"
    for data in seeds:
        TARGETS[target](data)


def _mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    op = st.one_of(
        st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
        st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 64)),
        st.tuples(st.just("repeat"), st.integers(0, 1 << 20), st.integers(1, 64)),
        st.tuples(st.just("splice"), st.integers(0, 1 << 20), st.integers(0, len(seeds) - 1)),
    )

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for kind, at, arg in draw(st.lists(op, min_size=1, max_size=8)):
            i = at % (len(data) + 1)
            if kind == "flip" and data:
                data[i % len(data)] ^= arg
            elif kind == "insert":
                data[i:i] = arg
            elif kind == "delete":
                del data[i:i + arg]
            elif kind == "repeat":
                data[i:i] = data[i:i + arg] * 4
            elif kind == "splice":
                other = seeds[arg]
                data[i:] = other[at % (len(other) + 1):]
        return bytes(data[:MAX_INPUT])
    return mutated()


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_mutated_inputs_are_handled(target: str) -> None:
    run = TARGETS[target]

    @FUZZ
    @given(_mutations(corpus(target)))
    def check(data: bytes) -> None:
        run(data)
    check()


_HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\r\n", "\x1c", "|", "=",
                     "\\", "\x00", "\ud800", "\ufeff", "a" * 5000]),
)
_HOSTILE_NUMBER = st.one_of(
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["9" * 400, "\u00b2", "-5", "1e30", "NaN", "inf", "", " 7", "0x10"]),
)
_KEYS_TEXT = ["mcp.server.id", "mcp.tool.name", "mcp.tool.status", "mcp.caller.id",
              "mcp.caller.type", "mcp.caller.roles", "mcp.error.type", "service.version",
              "mcp.cost.model"]
_KEYS_NUMBER = ["mcp.tool.duration_ms", "gen_ai.usage.input_tokens",
                "gen_ai.usage.output_tokens", "mcp.cost.cents", "mcp.cost.input_tokens"]


def _value(v: object) -> dict[str, object]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v}


@st.composite
def _audit_request(draw: st.DrawFn) -> bytes:
    records = []
    for _ in range(draw(st.integers(1, 4))):
        attrs: dict[str, object] = {"mcp.event.name": "tool_invocation",
                                    "mcp.server.id": draw(st.sampled_from(
                                        ["llm", "sandbox", "openai-tools", "math", "geo"])),
                                    "mcp.tool.name": draw(st.sampled_from(
                                        ["summarize", "chat", "add", "geocode", "run"]))}
        for key in draw(st.lists(st.sampled_from(_KEYS_TEXT), max_size=4)):
            attrs[key] = draw(_HOSTILE_TEXT)
        for key in draw(st.lists(st.sampled_from(_KEYS_NUMBER), max_size=3)):
            attrs[key] = draw(_HOSTILE_NUMBER)
        records.append({"timeUnixNano": str(draw(st.integers(0, (1 << 64) - 1))),
                        "body": {"stringValue": "tool_invocation"},
                        "attributes": [{"key": k, "value": _value(v)} for k, v in attrs.items()]})
    body = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "mcp-hangar"}}]},
        "scopeLogs": [{"logRecords": records}]}]}
    return bytes([SIGNALS.index(SIGNALS[1])]) + json.dumps(body).encode("utf-8", "surrogatepass")


@FUZZ
@given(_audit_request())
def test_hostile_audit_records_are_handled(data: bytes) -> None:
    TARGETS["otlp_json"](data)


def test_findings_stay_fixed() -> None:
    """Inputs the fuzzers found (each a bug fixed; named after what it was)."""
    for path in sorted((CORPUS / "findings").iterdir()):
        target = path.name.split("-", 1)[0]
        TARGETS[target](path.read_bytes())
