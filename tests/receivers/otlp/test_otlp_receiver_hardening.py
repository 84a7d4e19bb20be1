"""Slow, idle and numerous clients (issue 13): real servers on 127.0.0.1, raw sockets.

Every wait is bounded; the timeouts are set to about a second so the suite stays quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import aiohttp
import grpc
import pytest

from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.pdata import Signal
from hangar_otelcol.receivers.otlp.factory import FACTORY
from hangar_otelcol.receivers.otlp.grpc_server import channel_options
from tests.receivers.otlp.helpers import (
    PB,
    VALID,
    MiB,
    Running,
    grpc_export,
    post,
    receiver_config,
)

PARTIAL = b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic"


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def connect(running: Running) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = running.receiver.http_server.port  # type: ignore[union-attr]
    return await asyncio.open_connection("127.0.0.1", port)


async def read_all(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """What the server sends until it closes (bounded by ``timeout``)."""
    received = b""

    async def read() -> None:
        nonlocal received
        with contextlib.suppress(ConnectionError):  # a reset after the answer
            while chunk := await reader.read(65536):
                received += chunk

    await asyncio.wait_for(read(), timeout)
    return received


def http_connections(running: Running) -> int:
    return running.receiver.http_server.connections  # type: ignore[union-attr]


async def test_slowloris_connections_are_closed_after_read_header_timeout(start_receiver):
    running = await start_receiver(receiver_config({"protocols": {"http": {
        "read_header_timeout": "1s", "max_connections": 1000}}}))
    clients = []
    for _ in range(200):
        reader, writer = await connect(running)
        writer.write(PARTIAL)
        clients.append((reader, writer))
    try:
        assert await until(lambda: http_connections(running) == 200)
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:  # a normal client meanwhile
            code, _, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
        assert code == 200
        answers = await asyncio.gather(*(read_all(r, 10) for r, _ in clients))
        assert time.monotonic() - started < 8
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), set(answers)
        assert await until(lambda: http_connections(running) == 0)
        assert running.metric("otelcol_receiver_failed_requests_total", "otlp", "http",
                              "header_timeout") == 200
    finally:
        for _, writer in clients:
            writer.close()


async def test_a_trickle_of_header_bytes_does_not_extend_the_deadline(start_receiver):
    running = await start_receiver(receiver_config({"protocols": {"http": {
        "read_header_timeout": "1s"}}}))
    reader, writer = await connect(running)
    started = time.monotonic()
    answer_task = asyncio.create_task(read_all(reader, 10))
    try:
        for byte in PARTIAL[:30]:  # one byte every 0.1s: 3s of headers
            if answer_task.done() or writer.is_closing():
                break
            with contextlib.suppress(ConnectionError):
                writer.write(bytes([byte]))
                await writer.drain()
            await asyncio.sleep(0.1)
        answer = await answer_task
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("ending", ["stall", "disconnect"])
async def test_a_stalled_body_is_answered_408_and_its_bytes_released(start_receiver, ending):
    running = await start_receiver(receiver_config({"protocols": {"http": {
        "read_timeout": "1s"}}}, grpc=False))
    reader, writer = await connect(running)
    head = (b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-protobuf\r\n"
            b"Content-Length: %d\r\n\r\n" % (20 * MiB))
    writer.write(head + b"\0" * MiB)  # 1 MiB of the announced 20, then nothing
    await writer.drain()
    try:
        assert await until(lambda: running.receiver.inflight_bytes >= MiB)
        if ending == "stall":
            answer = await read_all(reader, 10)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
            assert b"read_timeout (1s" in answer
        else:
            writer.close()
        assert await until(lambda: running.receiver.inflight_bytes == 0)
        assert await until(lambda: running.gauge("otelcol_receiver_inflight_bytes") == 0)
        assert running.receiver.inflight_requests == 0
        assert await until(lambda: http_connections(running) == 0)
    finally:
        writer.close()
    async with aiohttp.ClientSession() as session:  # and the receiver takes requests
        code, _, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert code == 200


async def test_an_idle_keepalive_connection_is_closed_after_idle_timeout(start_receiver):
    running = await start_receiver(receiver_config({"protocols": {"http": {
        "idle_timeout": "1s", "read_header_timeout": "10s"}}}, grpc=False))
    reader, writer = await connect(running)
    try:
        writer.write(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/x-protobuf\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(VALID) + VALID)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        assert status_line.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        await read_all(reader, 10)  # the rest of the response, then the close
        assert 0.5 < time.monotonic() - started < 5
        assert await until(lambda: http_connections(running) == 0)
    finally:
        writer.close()


async def test_max_connections_refuses_the_next_one_and_grpc_still_works(start_receiver):
    running = await start_receiver(receiver_config({"protocols": {
        "http": {"max_connections": 5, "read_header_timeout": "30s"},
        "grpc": {"max_connections": 5}}}))
    held = [await connect(running) for _ in range(5)]
    try:
        assert await until(lambda: http_connections(running) == 5)
        reader, writer = await connect(running)
        answer = await read_all(reader, 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503")
        assert running.metric("otelcol_receiver_failed_requests_total", "otlp", "http",
                              "too_many_connections") == 1
        assert http_connections(running) == 5
        await grpc_export(running, VALID)  # the other protocol is not starved
    finally:
        for _, w in held:
            w.close()
    assert await until(lambda: http_connections(running) == 0)
    async with aiohttp.ClientSession() as session:  # room again
        code, _, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert code == 200


async def test_grpc_max_connections_closes_connections_over_the_cap(start_receiver):
    running = await start_receiver(receiver_config({"protocols": {"grpc": {
        "max_connections": 2}}}, http=False))
    method = Signal.TRACES.info.grpc_method
    # distinct channels (a local subchannel pool each) so each one is its own connection
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(running.grpc_target, options=options)
                for _ in range(3)]
    try:
        for channel in channels[:2]:
            await channel.unary_unary(method)(VALID, timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await channels[2].unary_unary(method)(VALID, timeout=3)
        assert info.value.code() in (grpc.StatusCode.UNAVAILABLE,
                                     grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        for channel in channels:
            await channel.close()


async def test_grpc_max_connection_idle_closes_an_idle_channel(start_receiver):
    running = await start_receiver(receiver_config({"protocols": {"grpc": {
        "keepalive": {"server_parameters": {"max_connection_idle": "500ms"}}}}}, http=False))
    async with grpc.aio.insecure_channel(running.grpc_target) as channel:
        await channel.unary_unary(Signal.TRACES.info.grpc_method)(VALID, timeout=10)
        assert channel.get_state() == grpc.ChannelConnectivity.READY
        deadline = time.monotonic() + 10
        state = channel.get_state()
        while state == grpc.ChannelConnectivity.READY and time.monotonic() < deadline:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(channel.wait_for_state_change(state), 1)
            state = channel.get_state()
        assert state != grpc.ChannelConnectivity.READY  # the server said GOAWAY
        # and the channel reconnects for the next call
        await channel.unary_unary(Signal.TRACES.info.grpc_method)(VALID, timeout=10)


def test_keepalive_keys_become_grpc_channel_args():
    config = build(FACTORY.config_class, {"protocols": {"grpc": {
        "max_concurrent_streams": 16, "max_connections": 300, "keepalive": {
            "server_parameters": {"max_connection_idle": "1m", "max_connection_age": "1h",
                                  "max_connection_age_grace": "30s", "time": "30s",
                                  "timeout": "5s"},
            "enforcement_policy": {"min_time": "10s", "permit_without_stream": True}}}}})
    options = dict(channel_options(config.protocols.grpc))
    assert options["grpc.max_concurrent_streams"] == 16
    assert options["grpc.max_allowed_incoming_connections"] == 300
    assert options["grpc.max_connection_idle_ms"] == 60_000
    assert options["grpc.max_connection_age_ms"] == 3_600_000
    assert options["grpc.max_connection_age_grace_ms"] == 30_000
    assert options["grpc.keepalive_time_ms"] == 30_000
    assert options["grpc.keepalive_timeout_ms"] == 5_000
    assert options["grpc.http2.min_ping_interval_without_data_ms"] == 10_000
    assert options["grpc.keepalive_permit_without_calls"] == 1


def test_safe_defaults():
    config = build(FACTORY.config_class, {"protocols": {"grpc": None, "http": None}})
    http, grpc_cfg = config.protocols.http, config.protocols.grpc
    assert (http.read_header_timeout, http.read_timeout, http.idle_timeout) == (10, 30, 60)
    assert http.connection_cap >= 64 and grpc_cfg.connection_cap >= 64
    options = dict(channel_options(grpc_cfg))
    assert options["grpc.max_connection_idle_ms"] == 300_000  # finite, unlike the Collector
    assert "grpc.max_connection_age_ms" not in options  # never, as the Collector
    assert options["grpc.keepalive_time_ms"] == 7_200_000
    assert options["grpc.max_concurrent_streams"] == 100
    assert config.offload_decode_above == MiB


@pytest.mark.parametrize(("raw", "expected"), [
    ({"http": {"read_header_timeout": "soon"}},
     "receivers.otlp.protocols.http.read_header_timeout: invalid duration"),
    ({"http": {"idle_timeout": 0}}, "receivers.otlp.protocols.http.idle_timeout: must be"),
    ({"http": {"max_connections": -1}},
     "receivers.otlp.protocols.http.max_connections: must not be negative"),
    ({"grpc": {"max_connections": -1}},
     "receivers.otlp.protocols.grpc.max_connections: must not be negative"),
    ({"grpc": {"keepalive": {"server_parameters": {"max_connection_idle": "forever"}}}},
     "receivers.otlp.protocols.grpc.keepalive.server_parameters.max_connection_idle: "
     "invalid duration"),
    ({"grpc": {"keepalive": {"server_parameters": {"timeout": 0}}}},
     "receivers.otlp.protocols.grpc.keepalive.server_parameters.timeout: must be positive"),
    ({"grpc": {"keepalive": {"enforcement_policy": {"min_tme": "1s"}}}},
     "receivers.otlp.protocols.grpc.keepalive.enforcement_policy.min_tme: unknown key"),
])
def test_config_errors_name_the_path(raw, expected):
    with pytest.raises(ConfigError) as info:
        build(FACTORY.config_class, {"protocols": raw}, "receivers.otlp")
    assert any(e.startswith(expected) for e in info.value.errors), info.value.errors


async def test_a_large_json_body_is_decoded_off_the_loop(start_receiver):
    running = await start_receiver(receiver_config({"offload_decode_above": "1KiB"}))
    body = (b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + b",".join(
        b'{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
        b'"name":"s%d"}' % i for i in range(100)) + b"]}]}]}")
    async with aiohttp.ClientSession() as session:
        code, _, _ = await post(session, running.url(Signal.TRACES), body,
                                {"Content-Type": "application/json"})
    assert code == 200
    assert running.receiver._decoder is not None  # the decode thread was used
    batch = running.consumers[Signal.TRACES].batches[0]
    assert batch.item_count == 100
