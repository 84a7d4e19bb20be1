"""Every captured hangar request replayed over gRPC and HTTP arrives byte for byte.

The captures (tests/testdata/hangar-captures, every OTLP request of every version) hold
each request as OTLP/JSON; it is turned into protobuf once, sent, and the part that reaches
the pipeline must carry exactly those bytes (nothing re-serialized) and the
metadata the capture was sent with.
"""

from __future__ import annotations

import gzip
import json

import aiohttp
import grpc
import pytest

from hangar_otelcol import otlpjson
from tests.support import captures

CAPTURES = captures.captures()


@pytest.fixture
async def running(start_receiver):
    return await start_receiver()


async def test_captures_over_grpc(running):
    async with grpc.aio.insecure_channel(running.grpc_target) as channel:
        for capture in CAPTURES:
            signal, wire = capture.signal, capture.wire
            call = channel.unary_unary(signal.info.grpc_method)
            metadata = [(k, v) for k, v in capture.metadata.items()  # gRPC metadata only
                        if capture.transport == "grpc" and k != "user-agent"]
            assert await call(wire, metadata=metadata, timeout=10) == b""
            part = running.consumers[signal].batches[-1].parts[0]
            assert part.wire() == wire, capture.path
            assert not part.mutated
            for key, value in metadata:
                assert part.sender.metadata[key] == value


@pytest.mark.parametrize("compress", [False, True])
async def test_captures_over_http_protobuf(running, compress):
    async with aiohttp.ClientSession() as session:
        for capture in CAPTURES:
            signal, wire = capture.signal, capture.wire
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
            assert part.wire() == wire, capture.path


async def test_captures_over_http_json(running):
    async with aiohttp.ClientSession() as session:
        for capture in CAPTURES:
            signal, wire = capture.signal, capture.wire
            body = json.dumps(capture.request).encode()
            async with session.post(running.url(signal), data=body,
                                    headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 200, await resp.read()
                assert await resp.read() == b"{}"
            part = running.consumers[signal].batches[-1].parts[0]
            assert part.message.SerializeToString() == wire, capture.path
            assert otlpjson.to_dict(part.message) == capture.request
