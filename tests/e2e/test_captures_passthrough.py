"""Issue 2 "done when": the captured hangar payloads replayed over gRPC and HTTP arrive
byte-for-byte equal (as protobuf) downstream."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import grpc
import pytest

from hangar_otelcol.pdata import Signal, decode
from tests.support import captures, configs
from tests.support.gateway import run_gateway
from tests.support.sinks import GrpcSink


def config(sink: int) -> str:
    return configs.gateway(
        {signal: {"receivers": ["otlp"], "exporters": ["otlp"]} for signal in ("traces", "logs")},
        exporters={"otlp": configs.otlp_out(sink, sending_queue={"num_consumers": 1})})


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_captures_arrive_byte_for_byte(tmp_path: Path, transport: str) -> None:
    sink = await GrpcSink().start()
    try:
        with run_gateway(tmp_path, config(sink.port)) as gw:
            sent: dict[str, list[bytes]] = {"traces": [], "logs": []}
            async with aiohttp.ClientSession() as session, \
                    grpc.aio.insecure_channel(f"127.0.0.1:{gw.ports['grpc']}") as channel:
                for capture in captures.captures():
                    signal, wire = capture.signal, capture.wire
                    sent[signal.value].append(wire)
                    if transport == "grpc":
                        export = channel.unary_unary(signal.info.grpc_method)
                        await export(wire, timeout=10)
                    else:
                        async with session.post(
                                f"http://127.0.0.1:{gw.ports['http']}/v1/{signal.value}",
                                data=wire,
                                headers={"Content-Type": "application/x-protobuf"}) as resp:
                            assert resp.status == 200, await resp.text()
            for signal_name, wires in sent.items():
                count = sum(decode(Signal(signal_name), w).item_count for w in wires)
                await sink.wait_for_items(signal_name, count)
    finally:
        await sink.stop()
    for signal_name, wires in sent.items():
        # one consumer keeps order; every request is forwarded as the exact bytes received
        assert sink.requests(signal_name) == wires
