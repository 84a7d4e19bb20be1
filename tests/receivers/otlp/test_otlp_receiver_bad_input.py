"""Bad requests get the right status, a clear message, and the receiver keeps serving.

Each case is followed by a valid request that must still succeed. Memory for a
gzip bomb is checked with tracemalloc (only around that request).
"""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import aiohttp
import grpc
import pytest
import zstandard
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from hangar_otelcol.pdata import Signal
from tests.receivers.otlp.helpers import (
    JS,
    PB,
    SPAN_ID,
    TRACE_ID,
    VALID,
    MiB,
    grpc_export,
    post,
    receiver_config,
    spans_request,
)


def bomb(size: int) -> bytes:
    """gzip of ``size`` zero bytes, built in steps (a few hundred KiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(4 * MiB)
    return b"".join([*(c.compress(zeros) for _ in range(size // len(zeros))), c.flush()])


@pytest.fixture
async def running(start_receiver):
    config = receiver_config({"protocols": {"http": {"max_request_body_size": "1MiB"},
                                            "grpc": {"max_recv_msg_size_mib": 1}}})
    return await start_receiver(config)


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def still_serves(running, session):
    status, _, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 200


def status_message(body: bytes, json: bool) -> str:
    if json:
        import orjson
        return orjson.loads(body)["message"]
    return status_pb2.Status.FromString(body).message


TRUNCATED = VALID[: len(VALID) - 7]
BAD_UTF8 = b"\x0a\x0c\x12\x0a\x12\x08\x2a\x06\xff\xfe\xfd\xfc\xfb\xfa"  # span.name bytes

HTTP_CASES = [
    # (id, path signal, headers, body, status, message fragment)
    ("garbage-protobuf", PB, b"\xff\xfe\xfd garbage", 400, "cannot decode"),
    ("truncated-protobuf", PB, TRUNCATED, 400, "cannot decode"),
    ("invalid-utf8-protobuf", PB, BAD_UTF8, 400, "cannot decode"),
    ("invalid-json", JS, b'{"resourceSpans": [', 400, "invalid JSON"),
    ("json-not-object", JS, b"[1, 2]", 400, "expected a JSON object"),
    ("json-invalid-utf8", JS, b'{"resourceSpans": "\xff"}', 400, "invalid JSON"),
    ("json-short-trace-id", JS,
     b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abcd","spanId":"%s"}]}]}]}'
     % SPAN_ID.encode(), 400, "resourceSpans[0].scopeSpans[0].spans[0].traceId"),
    ("json-non-hex-span-id", JS,
     b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"zzzzzzzzzzzzzzzz"}]}]}]}'
     % TRACE_ID.encode(), 400, "spanId"),
    ("json-bad-int", JS,
     b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}',
     400, "startTimeUnixNano"),
    ("unknown-encoding", {**PB, "Content-Encoding": "br"}, VALID, 400, "Content-Encoding"),
    ("not-gzip", {**PB, "Content-Encoding": "gzip"}, VALID, 400, "invalid gzip"),
    ("truncated-gzip", {**PB, "Content-Encoding": "gzip"}, gzip.compress(VALID)[:-12], 400,
     "truncated"),
    ("not-zstd", {**PB, "Content-Encoding": "zstd"}, VALID, 400, "zstd"),
    ("over-limit", PB, b"\x00" * (MiB + 1), 413, "max_request_body_size"),
    ("gzip-over-limit", {**PB, "Content-Encoding": "gzip"}, gzip.compress(b"\x0a\x00" * MiB),
     413, "after decompression"),
]


@pytest.mark.parametrize(("headers", "body", "status", "fragment"),
                         [c[1:] for c in HTTP_CASES], ids=[c[0] for c in HTTP_CASES])
async def test_http_bad_input(running, session, headers, body, status, fragment):
    got, resp_headers, resp_body = await post(session, running.url(Signal.TRACES), body, headers)
    assert got == status
    is_json = headers["Content-Type"] == "application/json"
    assert resp_headers["Content-Type"] == ("application/json" if is_json
                                            else "application/x-protobuf")
    assert fragment in status_message(resp_body, is_json)
    assert running.consumers[Signal.TRACES].batches == []
    await still_serves(running, session)


async def test_http_wrong_content_type(running, session):
    status, _headers, body = await post(session, running.url(Signal.TRACES), VALID,
                                       {"Content-Type": "text/plain"})
    assert status == 415
    assert body == (b"415 unsupported media type, supported: "
                    b"[application/json, application/x-protobuf]")
    await still_serves(running, session)


async def test_http_wrong_method(running, session):
    async with session.get(running.url(Signal.TRACES)) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "POST"
        assert await resp.text() == "405 method not allowed, supported: [POST]"
    await still_serves(running, session)


async def test_http_chunked_body_over_limit(running, session):
    async def chunks():
        for _ in range(20):
            yield b"\x00" * (128 * 1024)

    status, _, _body = await post(session, running.url(Signal.TRACES), chunks(), PB)
    assert status == 413
    await still_serves(running, session)


async def test_http_chunked_body_is_read(running, session):
    async def chunks():
        for i in range(0, len(VALID), 7):
            yield VALID[i:i + 7]

    status, _, _ = await post(session, running.url(Signal.TRACES), chunks(), PB)
    assert status == 200
    assert running.consumers[Signal.TRACES].batches[0].parts[0].wire() == VALID


async def test_http_gzip_bomb_stays_within_memory(running, session):
    body = bomb(256 * MiB)  # 256 MiB of zeros in a few hundred KiB
    assert len(body) < MiB
    tracemalloc.start()
    try:
        status, _, resp = await post(session, running.url(Signal.TRACES), body,
                                     {**PB, "Content-Encoding": "gzip"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413
    assert "after decompression" in status_message(resp, False)
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB while refusing a gzip bomb"
    await still_serves(running, session)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd", "identity"])
async def test_http_compressed_bodies(running, session, encoding):
    body = {"gzip": gzip.compress, "deflate": zlib.compress, "identity": bytes,
            "zstd": zstandard.ZstdCompressor().compress}[encoding](VALID)
    status, _, _ = await post(session, running.url(Signal.TRACES), body,
                              {**PB, "Content-Encoding": encoding})
    assert status == 200
    assert running.consumers[Signal.TRACES].batches[0].parts[0].wire() == VALID


@pytest.mark.parametrize("headers", [PB, JS], ids=["protobuf", "json"])
async def test_http_empty_body_is_success(running, session, headers):
    status, _, body = await post(session, running.url(Signal.TRACES), b"", headers)
    assert status == 200
    assert body == (b"{}" if headers is JS else b"")
    assert running.consumers[Signal.TRACES].batches == []


async def test_json_log_ids_of_wrong_length_mean_no_association(running, session):
    body = (b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"},'
            b'"traceId":"abc","spanId":"%s"}]}]}]}' % SPAN_ID.upper().encode())
    status, _, _ = await post(session, running.url(Signal.LOGS), body, JS)
    assert status == 200
    record = running.consumers[Signal.LOGS].batches[0].parts[0].message.resource_logs[0] \
        .scope_logs[0].log_records[0]
    assert record.trace_id == b""
    assert record.span_id == bytes.fromhex(SPAN_ID)


# ----------------------------------------------------------------------------- gRPC


async def grpc_still_serves(running):
    assert await grpc_export(running, VALID) == b""


@pytest.mark.parametrize(("body", "code"), [
    (b"\xff\xfe\xfd garbage", grpc.StatusCode.INVALID_ARGUMENT),
    (TRUNCATED, grpc.StatusCode.INVALID_ARGUMENT),
    (BAD_UTF8, grpc.StatusCode.INVALID_ARGUMENT),
    (spans_request(1, "x" * (MiB + 10)).SerializeToString(), grpc.StatusCode.RESOURCE_EXHAUSTED),
], ids=["garbage", "truncated", "invalid-utf8", "over-limit"])
async def test_grpc_bad_input(running, body, code):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, body)
    assert info.value.code() == code
    await grpc_still_serves(running)


async def test_grpc_gzip_request_and_bomb(running):
    assert await grpc_export(running, VALID, compression=grpc.Compression.Gzip) == b""
    big = spans_request(1, "x" * (4 * MiB)).SerializeToString()  # compresses to a few KiB
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, big, compression=grpc.Compression.Gzip)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    await grpc_still_serves(running)


async def test_grpc_empty_request_is_success(running):
    assert await grpc_export(running, b"", Signal.LOGS) == b""
    assert await grpc_export(running, ExportLogsServiceRequest().SerializeToString(),
                             Signal.LOGS) == b""
    assert running.consumers[Signal.LOGS].batches == []
