"""The Collector's twin of the enrich bench config does the same work as ours: the same
requests (the bench payloads, with hangar's identity headers in several shapes) sent to
hangar-otelcol on bench/configs/enrich.yaml and to the real OpenTelemetry Collector on
bench/collector/{common,mcp-transform,enrich}.yaml arrive at a sink with the same
attributes on every span and log record (caller identity and cost included), so the
bench's per-core ratio compares equal work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from bench.payloads import IDENTITY_HEADERS, build
from bench.run import Collector, Gateway
from bench.scenarios import by_name
from hangar_otelcol.pdata import Signal, decode
from hangar_otelcol.signals import SIGNALS
from tests.peers.otelcol import peer
from tests.support.otlp import attrs, items
from tests.support.sinks import GrpcSink

#: identity headers as hangar sends them, and the other shapes its extractor knows
HEADERS: list[dict[str, str]] = [
    IDENTITY_HEADERS,                                       # a user (the bench's)
    {"x-user-id": "bob", "x-principal-type": "service"},    # a service principal
    {"x-user-id": "carol", "x-principal-type": "Agent"},    # an agent, any case
    {"x-agent-id": "agent-9"},                              # an agent id only
    {},                                                     # nobody: no caller
]
PAYLOADS = ["traces-512", "traces-all-512", "logs-512"]


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    binary = peer.binary()
    if binary is None:
        pytest.skip(peer.skip_reason())
    scenario = by_name(["enrich-grpc-512"])[0]
    sinks = {"ours": await GrpcSink().start(), "otelcol": await GrpcSink().start()}
    started: dict[str, Any] = {}
    try:
        started["ours"] = await asyncio.to_thread(
            Gateway, scenario, SimpleNamespace(grpc_port=sinks["ours"].port), tmp_path)
        started["otelcol"] = await asyncio.to_thread(
            Collector, binary, scenario, SimpleNamespace(grpc_port=sinks["otelcol"].port),
            tmp_path)
        yield {"sinks": sinks, "processes": started}
    finally:
        codes = {side: await asyncio.to_thread(p.stop) for side, p in started.items()}
        for sink in sinks.values():
            await sink.stop()
    assert codes == {"ours": 0, "otelcol": 0}, {s: p.tail() for s, p in started.items()}


def _by_id(signal: Signal, body: bytes) -> dict[bytes, dict[str, Any]]:
    """Every span's / log record's attributes by its span id (unique in a bench payload)."""
    return {item.span_id: attrs(item) for _, _, item in items(signal, decode(signal, body).message)}


async def test_the_collector_twin_writes_the_same_caller_and_cost_as_ours(
        both: dict[str, Any]) -> None:
    sinks, processes = both["sinks"], both["processes"]
    channels = {side: grpc.aio.insecure_channel(f"127.0.0.1:{p.grpc_port}")
                for side, p in processes.items()}
    priced = callers = compared = 0
    try:
        for name in PAYLOADS:
            payload = build(name)
            method = f"/{SIGNALS[payload.signal].grpc_service}/Export"
            for headers in HEADERS:
                got = {}
                for side, channel in channels.items():
                    before = len(sinks[side].received)
                    await channel.unary_unary(method)(
                        payload.proto, metadata=tuple(headers.items()), timeout=10)
                    await sinks[side].wait_for(before + 1)
                    got[side] = _by_id(payload.signal, sinks[side].received[-1].body)
                assert len(got["ours"]) == payload.items, name
                assert got["ours"].keys() == got["otelcol"].keys(), name
                for span_id, ours in got["ours"].items():
                    assert got["otelcol"][span_id] == ours, (name, headers, ours)
                    priced += "mcp.cost.cents" in ours
                    callers += "mcp.caller.id" in ours
                    compared += 1
    finally:
        for channel in channels.values():
            await channel.close()
    # the comparison covered priced records and every identity shape: the 64 batch.call
    # spans of the hangar mix, every span of traces-all and the 480 tool_invocation audit
    # records are priced; the caller goes on every invocation (the 64 nested execute_tool
    # spans too), for every shape of headers but none
    print(f"compared {compared} records: {priced} priced, {callers} with a caller")
    assert compared == len(HEADERS) * sum(build(p).items for p in PAYLOADS)
    assert priced == len(HEADERS) * (64 + 512 + 480), priced
    assert callers == (len(HEADERS) - 1) * (128 + 512 + 480), callers
