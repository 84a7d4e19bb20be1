"""What index() reads from a record: key preference, value types, events, in-place writes."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.mcp import (
    DEFAULT_KEYS,
    STATE_EVENT,
    TOOL_EVENT,
    InvocationKeys,
    ToolInvocation,
    index,
)
from hangar_otelcol.mcp.attrs import EncodedAttributes, set_attributes, set_encoded
from hangar_otelcol.mcp.keys import IDENTITY_KEYS
from hangar_otelcol.pdata import Part
from hangar_otelcol.processors.caller import identity
from hangar_otelcol.testing import key_value


def _log_part(*records: list[tuple[str, Any]]) -> Part:
    req = ExportLogsServiceRequest()
    sl = req.resource_logs.add().scope_logs.add()
    for attrs in records:
        rec = sl.log_records.add(time_unix_nano=1)
        rec.attributes.extend(key_value(k, v) for k, v in attrs)
    return Part(req, req.SerializeToString())


def _span_part(name: str, attrs: list[tuple[str, Any]]) -> Part:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    span = ss.spans.add(name=name, start_time_unix_nano=1_000_000, end_time_unix_nano=3_500_000)
    span.attributes.extend(key_value(k, v) for k, v in attrs)
    return Part(req, req.SerializeToString())


def _one(part: Part) -> ToolInvocation:
    (inv,) = index(part)
    return inv


TOOL = ("mcp.event.name", "tool_invocation")


def test_first_listed_key_wins_whatever_the_attribute_order() -> None:
    # tool_keys = [gen_ai.tool.name, mcp.tool.name]; input tokens prefer gen_ai.usage.*
    for attrs in ([("mcp.tool.name", "old"), ("gen_ai.tool.name", "new")],
                  [("gen_ai.tool.name", "new"), ("mcp.tool.name", "old")]):
        inv = _one(_log_part([TOOL, *attrs, ("mcp.cost.input_tokens", 7),
                              ("gen_ai.usage.input_tokens", 40)]))
        assert inv.tool == "new"
        assert inv.input_tokens == 40


def test_values_of_unexpected_types_are_converted_or_dropped() -> None:
    inv = _one(_log_part([TOOL, ("gen_ai.tool.name", 42), ("mcp.server.id", b"\x00"),
                          ("gen_ai.usage.input_tokens", "1200"),
                          ("gen_ai.usage.output_tokens", 30.9),
                          ("mcp.tool.duration_ms", 5), ("mcp.cost.cents", "12")]))
    assert inv.tool == "42"
    assert inv.server is None  # bytes are not text
    assert inv.input_tokens == 1200
    assert inv.output_tokens == 30
    assert inv.duration_ms == 5.0 and isinstance(inv.duration_ms, float)
    assert inv.cost_cents is None  # only an integer is a cost


def test_zero_and_empty_values_are_values() -> None:
    inv = _one(_log_part([TOOL, ("gen_ai.tool.name", ""), ("gen_ai.usage.input_tokens", 0),
                          ("mcp.tool.duration_ms", 0.0), ("mcp.cost.cents", 0)]))
    assert inv.tool == ""
    assert inv.input_tokens == 0
    assert inv.duration_ms == 0.0
    assert inv.cost_cents == 0


def test_log_records_need_a_known_event_name() -> None:
    part = _log_part([("gen_ai.tool.name", "query")],  # no event name: not an invocation
                     [("mcp.event.name", "something_else"), ("gen_ai.tool.name", "query")],
                     [("mcp.event.name", STATE_EVENT), ("mcp.server.state", "ready"),
                      ("mcp.server.previous_state", "cold"), ("mcp.server.id", "pg")],
                     [TOOL, ("gen_ai.tool.name", "query")])
    invs = index(part)
    assert [(i.event, i.tool, i.to_state, i.from_state) for i in invs] == [
        (STATE_EVENT, None, "ready", "cold"), (TOOL_EVENT, "query", None, None)]


def test_span_fields_and_fallbacks() -> None:
    inv = _one(_span_part("batch.call.query", [("gen_ai.tool.name", "query"),
                                                ("mcp.audit.source", "span")]))
    assert inv.is_span and inv.tool == "query" and inv.derived
    assert inv.duration_ms == 2.5  # from start/end when no duration attribute
    assert inv.status == "success"
    assert inv.counted
    assert index(_span_part("db.query", [("gen_ai.tool.name", "query")])) == []


def test_set_attributes_replaces_known_keys_in_place() -> None:
    part = _log_part([TOOL, ("gen_ai.tool.name", "q"), ("mcp.caller.id", "old"),
                      ("other", "x")])
    inv = _one(part)
    set_attributes(inv, {"mcp.caller.id": "alice", "mcp.caller.type": "human"})
    set_attributes(inv, {"mcp.caller.type": "agent", "mcp.cost.cents": 3})
    rec = part.message.resource_logs[0].scope_logs[0].log_records[0]
    got = [(kv.key, kv.value.WhichOneof("value")) for kv in rec.attributes]
    assert [k for k, _ in got] == ["mcp.event.name", "gen_ai.tool.name", "mcp.caller.id",
                                   "other", "mcp.caller.type", "mcp.cost.cents"]
    values = {kv.key: kv.value for kv in rec.attributes}
    assert values["mcp.caller.id"].string_value == "alice"
    assert values["mcp.caller.type"].string_value == "agent"
    assert values["mcp.cost.cents"].int_value == 3
    assert part.mutated  # the original bytes are no longer the message


def test_index_keeps_positions_of_every_identity_key_the_caller_reads() -> None:
    read_by_caller = {*identity.USER_KEYS, identity.AGENT_KEY, *identity.ROLES_KEYS,
                      "mcp.caller.type", "mcp.caller.id", "mcp.caller.roles"}
    assert read_by_caller <= IDENTITY_KEYS
    attrs = [(k, f"v-{k}") for k in sorted(read_by_caller)]
    inv = _one(_log_part([TOOL, *attrs]))
    assert {k: p for k, p in inv.attr_index.items() if k in read_by_caller} == {
        k: i + 1 for i, (k, _) in enumerate(attrs)}


def test_an_indexed_part_is_freed_without_the_garbage_collector() -> None:
    """Invocations point back at their part weakly: a part is no reference cycle, so its
    decoded request is freed as soon as the pipeline lets go of it (a cycle per request
    kept hundreds of MiB alive between collections at full load)."""
    import gc
    import weakref

    part = _log_part([TOOL, ("gen_ai.tool.name", "q")])
    inv = _one(part)
    set_attributes(inv, {"mcp.caller.id": "alice"})
    assert part.mutated
    ref = weakref.ref(part)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        del part
        assert ref() is None
        set_attributes(inv, {"mcp.caller.type": "human"})  # harmless once the part is gone
    finally:
        if was_enabled:
            gc.enable()


def test_encoded_attributes_append_or_replace_like_set_attributes() -> None:
    enc = EncodedAttributes({"mcp.caller.id": "alice", "mcp.caller.type": "human"})
    fresh = _log_part([TOOL, ("gen_ai.tool.name", "q")])
    existing = _log_part([TOOL, ("mcp.caller.id", "old"), ("gen_ai.tool.name", "q")])
    span = _span_part("batch.call.q", [("gen_ai.tool.name", "q")])
    for part in (fresh, existing, span):
        inv = _one(part)
        set_encoded(inv, enc)
        set_attributes(inv, {"mcp.caller.type": "agent"})  # positions stay right
        assert part.mutated
        msg = part.message
        record = msg.resource_spans[0].scope_spans[0].spans[0] if inv.is_span else \
            msg.resource_logs[0].scope_logs[0].log_records[0]
        keys = [kv.key for kv in record.attributes]
        assert sorted(k for k in keys if k.startswith("mcp.caller.")) == [
            "mcp.caller.id", "mcp.caller.type"]  # no duplicates
        values = {kv.key: kv.value.string_value for kv in record.attributes}
        assert values["mcp.caller.id"] == "alice"
        assert values["mcp.caller.type"] == "agent"


def test_components_with_other_keys_get_their_own_reading() -> None:
    part = _log_part([("mcp.event.name", "tool_call"), ("gen_ai.tool.name", "q")])
    assert index(part, DEFAULT_KEYS) == []  # "tool_call" is not hangar's event name
    custom = InvocationKeys(tool_event="tool_call")
    assert [inv.tool for inv in index(part, custom)] == ["q"]
    assert index(part, InvocationKeys(tool_event="tool_call")) is index(part, custom)  # equal
