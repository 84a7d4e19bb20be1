"""mcp_caller: identity from attributes, resource, trusted headers, static map, default."""

from __future__ import annotations

import pytest

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.mcp.attrs import set_attributes
from hangar_otelcol.pdata import Batch, Sender
from hangar_otelcol.processors.caller.config import CallerConfig
from hangar_otelcol.processors.caller.factory import FACTORY
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, make_settings
from tests.support import captures as hc

HANGAR_HEADERS = {"x-user-id": "alice", "x-agent-id": "agent-7", "x-session-id": "sess-1",
                  "x-principal-type": "user", "x-caller-roles": "admin, mcp_servers:read"}


def make(raw: dict | None = None, telemetry: Telemetry | None = None):
    config = build(CallerConfig, raw or {})
    return FACTORY.create(make_settings(Kind.PROCESSOR, "mcp_caller", telemetry), config,
                          None, CollectingConsumer())


async def run(proc, parts) -> list:
    for part in parts:
        await proc.consume(Batch(hc.signal_of(part), [part]))
    return [i for p in parts for i in index(p) if i.event == TOOL_EVENT]


def caller(inv) -> tuple:
    a = hc.attrs(inv.record)
    return a.get("mcp.caller.type"), a.get("mcp.caller.id"), a.get("mcp.caller.roles")


@pytest.mark.parametrize("version", ["1.1.0", "1.6.3", "2.34.4"])
async def test_trusted_headers_identify_every_invocation(version: str) -> None:
    sender = Sender("grpc", "127.0.0.1", HANGAR_HEADERS)
    parts = hc.load(version, sender)
    before = {id(p): p.wire() for p in parts}
    invs = await run(make(), parts)
    assert len(invs) >= 6
    for inv in invs:
        assert caller(inv) == ("human", "alice", "admin,mcp_servers:read")
        assert (inv.caller_type, inv.caller_id) == ("human", "alice")  # the view too
    for part in parts:  # parts without invocations keep their original bytes
        if not index(part):
            assert part.wire() == before[id(part)]


async def test_untrusted_sender_headers_are_ignored() -> None:
    sender = Sender("grpc", "10.1.2.3", HANGAR_HEADERS)
    invs = await run(make(), hc.load("2.34.4", sender))
    assert all(caller(i) == (None, None, None) for i in invs)
    sender = Sender("grpc", "10.1.2.3", HANGAR_HEADERS)
    invs = await run(make({"headers": {"trusted_senders": ["10.0.0.0/8"]}}),
                     hc.load("2.34.4", sender))
    assert all(caller(i)[1] == "alice" for i in invs)


async def test_agent_header_without_user() -> None:
    sender = Sender("http", "::1", {"x-agent-id": "ci-bot-7"})
    invs = await run(make(), hc.load("1.6.3", sender))
    assert {caller(i) for i in invs} == {("agent", "ci-bot-7", None)}


async def test_resource_attributes_identify_the_sender() -> None:
    # what OTEL_RESOURCE_ATTRIBUTES=mcp.caller.id=ci-bot,mcp.caller.type=service produces
    parts = hc.load("2.34.4")
    for part in parts:
        msg = part.mutable_message()
        for rs in getattr(msg, "resource_spans", []) or getattr(msg, "resource_logs", []):
            for k, v in (("mcp.caller.id", "ci-bot"), ("mcp.caller.type", "service")):
                kv = rs.resource.attributes.add()
                kv.key, kv.value.string_value = k, v
    invs = await run(make(), parts)
    assert {caller(i) for i in invs} == {("service", "ci-bot", None)}


async def test_record_attributes_win_and_hangar_types_are_mapped() -> None:
    parts = [p for p in hc.load("2.34.4") if hc.signal_of(p).value == "logs"]
    first = next(i for i in index(parts[0]) if i.event == TOOL_EVENT)
    # what hangar 2.x writes with auth on: principal type "user", id, matched role
    set_attributes(first, {"mcp.caller.type": "user", "mcp.caller.id": "user:developer",
                          "mcp.caller.roles": "developer"})
    sender = Sender("grpc", "127.0.0.1", HANGAR_HEADERS)
    for p in parts:
        p.sender = sender
    invs = await run(make(), parts)
    assert caller(invs[0]) == ("human", "user:developer", "developer")
    assert all(caller(i)[1] == "alice" for i in invs[1:])


async def test_static_map_and_default() -> None:
    cfg = {"sources": ["attributes", "static"],
           "static": {"mcp-hangar": {"id": "hangar-prod", "type": "service",
                                     "roles": ["mcp_servers:read", "billing"]}}}
    invs = await run(make(cfg), hc.load("1.6.3"))
    assert {caller(i) for i in invs} == {("service", "hangar-prod", "mcp_servers:read,billing")}
    # static entries also fill in type/roles of a caller found elsewhere
    cfg = {"static": {"alice": {"type": "human", "roles": ["admin"]}}}
    sender = Sender("grpc", "127.0.0.1", {"x-user-id": "alice"})
    invs = await run(make(cfg), hc.load("1.6.3", sender))
    assert {caller(i) for i in invs} == {("human", "alice", "admin")}
    invs = await run(make({"default": {"id": "unknown", "type": "service"}}), hc.load("1.6.3"))
    assert {caller(i) for i in invs} == {("service", "unknown", None)}


async def test_semconv_keys_optional() -> None:
    sender = Sender("grpc", "127.0.0.1", HANGAR_HEADERS)
    invs = await run(make({"semconv": True}), hc.load("1.6.3", sender))
    a = hc.attrs(invs[0].record)
    assert (a["enduser.id"], a["user.roles"]) == ("alice", "admin,mcp_servers:read")


async def test_identity_is_bound_per_part_through_batching() -> None:
    # two senders' requests in one batch keep their own identity (the Collector's batch
    # processor loses request metadata; a Batch here is a list of Parts with their Sender)
    a = hc.load("1.6.3", Sender("grpc", "127.0.0.1", {"x-user-id": "alice"}))
    b = hc.load("1.6.3", Sender("grpc", "127.0.0.1", {"x-agent-id": "bob-bot"}))
    proc = make()
    await proc.consume(Batch(hc.signal_of(a[0]), [a[0], b[0], a[1], b[1]]))
    assert {caller(i)[1] for p in a for i in index(p)} == {"alice"}
    assert {caller(i)[1] for p in b for i in index(p)} == {"bob-bot"}


def test_config_errors() -> None:
    with pytest.raises(ConfigError) as exc:
        build(CallerConfig, {"sources": ["attributes", "ldap"],
                             "headers": {"trusted_senders": ["10.0.0.0/33"]},
                             "type_map": {"robot": "droid"},
                             "jwt": {"secret_env": "NOPE_NOT_SET_X", "algorithms": ["none"]}},
              "processors.mcp_caller")
    errors = exc.value.errors
    assert "processors.mcp_caller.sources[1]: must be one of attributes, jwt, headers, " \
           "static; got 'ldap'" in errors
    assert any(e.startswith("processors.mcp_caller.headers.trusted_senders[0]: not an IP")
               for e in errors)
    assert any(e.startswith("processors.mcp_caller.type_map.robot:") for e in errors)
    assert any(e.startswith("processors.mcp_caller.jwt.algorithms[0]: unsupported algorithm "
                            "'none'") for e in errors)
    assert any("NOPE_NOT_SET_X is not set" in e for e in errors)
