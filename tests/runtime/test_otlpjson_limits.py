"""OTLP/JSON decoding is linear in the input, and values nest a bounded depth (issue 13).

No timings are asserted (bench.hostile measures them): the work is counted as profiler
events (every Python and C function call the decoder makes), which grow with the number
of elements, and a structural check keeps ``bytes +=`` out of the decoder's loops (the
quadratic copy a 400k-element arrayValue took 6-11 s in).
"""

from __future__ import annotations

import ast
import inspect
import sys
from typing import Any

import orjson
import pytest

from hangar_otelcol import otlpjson
from hangar_otelcol.pdata import Signal
from hangar_otelcol.signals import REQUEST_TYPES


def array_body(n: int, item: Any = None) -> bytes:
    values = [item if item is not None else {}] * n
    return orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"arrayValue": {"values": values}}}]}]}]})


def calls(body: bytes) -> int:
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        otlpjson.decode_wire(Signal.LOGS, body)
    finally:
        sys.setprofile(None)
    return count


@pytest.mark.parametrize("item", [{}, {"intValue": "7"}, {"kvlistValue": {"values": [
    {"key": "k", "value": {"boolValue": True}}]}}], ids=["empty", "int", "kvlist"])
def test_decoding_work_grows_linearly_with_the_array(item):
    small, large = calls(array_body(50_000, item)), calls(array_body(400_000, item))
    assert small >= 50_000 or item == {}  # it counted the per-element work
    assert large <= 8 * small * 1.05 + 1000, (small, large)


def test_400k_empty_values_decode():
    wire = otlpjson.decode_wire(Signal.LOGS, array_body(400_000))
    message = REQUEST_TYPES[Signal.LOGS].FromString(wire)
    record = message.resource_logs[0].scope_logs[0].log_records[0]
    assert len(record.body.array_value.values) == 400_000


def _loops_concatenating_bytes(tree: ast.AST) -> list[str]:
    """``x += ...`` inside a loop where ``x`` started as a bytes literal."""
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        byte_names = {t.id for node in ast.walk(func) if isinstance(node, ast.Assign)
                      and isinstance(node.value, ast.Constant)
                      and isinstance(node.value.value, bytes)
                      for t in node.targets if isinstance(t, ast.Name)}
        for loop in ast.walk(func):
            if isinstance(loop, (ast.For, ast.While)):
                for node in ast.walk(loop):
                    if (isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add)
                            and isinstance(node.target, ast.Name)
                            and node.target.id in byte_names):
                        found.append(f"{func.name}: {node.target.id} += (line {node.lineno})")
    return found


def test_the_decoder_never_grows_bytes_in_a_loop():
    assert _loops_concatenating_bytes(ast.parse(inspect.getsource(otlpjson))) == []
    quadratic = "def f(items):\n    out = b''\n    for i in items:\n        out += i\n"
    assert _loops_concatenating_bytes(ast.parse(quadratic)) == ["f: out += (line 4)"]


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for level in range(depth):
        value = ({"arrayValue": {"values": [value]}} if level % 2 else
                 {"kvlistValue": {"values": [{"key": "k", "value": value}]}})
    return value


def test_values_nest_at_most_max_value_depth():
    ok = orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": nested(otlpjson.MAX_VALUE_DEPTH)}]}]}]})
    otlpjson.decode(Signal.LOGS, ok)  # decodes, and upb parses it
    deep = orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": nested(otlpjson.MAX_VALUE_DEPTH + 1)}]}]}]})
    with pytest.raises(otlpjson.OtlpJsonError) as info:
        otlpjson.decode_wire(Signal.LOGS, deep)
    message = str(info.value)
    assert message.startswith("resourceLogs[0].scopeLogs[0].logRecords[0].body.")
    assert f"more than {otlpjson.MAX_VALUE_DEPTH} arrayValue/kvlistValue levels" in message


def test_attribute_values_nest_the_same_limit():
    deep = orjson.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "a", "value": nested(otlpjson.MAX_VALUE_DEPTH + 1)}]}}]})
    with pytest.raises(otlpjson.OtlpJsonError, match="levels deep"):
        otlpjson.decode_wire(Signal.TRACES, deep)
