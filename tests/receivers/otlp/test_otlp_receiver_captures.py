"""Every captured hangar request replayed over gRPC and HTTP arrives byte for byte.

The captures (/work/shared/reference/hangar-captures/**/otlp*/) hold each request
as OTLP/JSON; it is turned into protobuf once, sent, and the part that reaches
the pipeline must carry exactly those bytes (nothing re-serialized) and the
metadata the capture was sent with.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import aiohttp
import grpc
import pytest

from hangar_otelcol import otlpjson
from hangar_otelcol.pdata import Signal
from hangar_otelcol.receivers.otlp.grpc_server import SERVICES

CAPTURES = Path("/work/shared/reference/hangar-captures")
FILES = sorted(CAPTURES.glob("**/otlp*/*.json"))
pytestmark = pytest.mark.skipif(not FILES, reason=f"no captures under {CAPTURES}")


def load(path: Path) -> tuple[Signal, dict, bytes]:
    capture = json.loads(path.read_text())
    signal = Signal(capture["signal"])
    wire = otlpjson.decode(signal, json.dumps(capture["request"])).SerializeToString()
    return signal, capture, wire


@pytest.fixture
async def running(start_receiver):
    return await start_receiver()


async def test_captures_over_grpc(running):
    async with grpc.aio.insecure_channel(running.grpc_target) as channel:
        for path in FILES:
            signal, capture, wire = load(path)
            call = channel.unary_unary(f"/{SERVICES[signal]}/Export")
            metadata = [(k.lower(), v) for k, v in
                        capture["meta"].get("metadata", {}).items() if k.lower() != "user-agent"]
            assert await call(wire, metadata=metadata, timeout=10) == b""
            part = running.consumers[signal].batches[-1].parts[0]
            assert part.wire() == wire, path
            assert not part.mutated
            for key, value in metadata:
                assert part.sender.metadata[key] == value


@pytest.mark.parametrize("compress", [False, True])
async def test_captures_over_http_protobuf(running, compress):
    async with aiohttp.ClientSession() as session:
        for path in FILES:
            signal, _, wire = load(path)
            headers = {"Content-Type": "application/x-protobuf"}
            body = wire
            if compress:
                headers["Content-Encoding"] = "gzip"
                body = gzip.compress(wire)
            async with session.post(running.url(signal), data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.read()
                assert resp.headers["Content-Type"] == "application/x-protobuf"
                assert await resp.read() == b""
            part = running.consumers[signal].batches[-1].parts[0]
            assert part.wire() == wire, path


async def test_captures_over_http_json(running):
    async with aiohttp.ClientSession() as session:
        for path in FILES:
            signal, capture, wire = load(path)
            body = json.dumps(capture["request"]).encode()
            async with session.post(running.url(signal), data=body,
                                    headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 200, await resp.read()
                assert await resp.read() == b"{}"
            part = running.consumers[signal].batches[-1].parts[0]
            assert part.message.SerializeToString() == wire, path
            assert otlpjson.to_dict(part.message) == capture["request"]
