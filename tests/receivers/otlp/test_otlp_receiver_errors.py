"""Pipeline refusals, overload, routing, lifecycle: what each sender sees.

Consumers here are small real consumers that refuse or block on purpose.
"""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import grpc
import orjson
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from hangar_otelcol.component import ConsumerError
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.testing import CollectingConsumer, RefusingConsumer
from tests.receivers.otlp.helpers import PB, VALID, grpc_export, post, receiver_config
from tests.support.waiting import eventually


class Blocking(CollectingConsumer):
    """Holds every batch until released (to keep requests in flight)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def consume(self, batch: Batch) -> None:
        self.entered.set()
        await asyncio.wait_for(self.release.wait(), 10)
        await super().consume(batch)


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def retry_delay(error: grpc.aio.AioRpcError) -> float:
    details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9


async def test_permanent_refusal_is_400_and_invalid_argument(start_receiver, session):
    running = await start_receiver(consumers={
        Signal.TRACES: RefusingConsumer(ConsumerError("tenant unknown", permanent=True))})
    status, _, body = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 400
    assert status_pb2.Status.FromString(body).message == "tenant unknown"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, VALID)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "tenant unknown"
    assert running.metric("otelcol_receiver_refused_spans_total", "otlp", "grpc") == 2


async def test_retryable_refusal_is_503_with_retry_after(start_receiver, session):
    running = await start_receiver(consumers={
        Signal.TRACES: RefusingConsumer(ConsumerError("queue full", retry_after=7))})
    status, headers, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 503
    assert headers["Retry-After"] == "7"
    status_json, headers, _body = await post(session, running.url(Signal.TRACES), b'{}',
                                            {"Content-Type": "application/json"})
    assert status_json == 200  # empty request: never reaches the pipeline
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, VALID)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert retry_delay(info.value) == 7


async def test_json_error_body_carries_retry_info(start_receiver, session):
    running = await start_receiver(consumers={
        Signal.TRACES: RefusingConsumer(ConsumerError("queue full", retry_after=2.5))})
    body = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"}]}]}]}'
    status, headers, resp = await post(session, running.url(Signal.TRACES), body,
                                       {"Content-Type": "application/json"})
    assert status == 503
    assert headers["Retry-After"] == "3"
    assert orjson.loads(resp) == {
        "code": 14, "message": "queue full",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]}


async def test_partial_success(start_receiver, session):
    running = await start_receiver(consumers={
        Signal.TRACES: RefusingConsumer(ConsumerError("1 span over budget", partial=True,
                                                      rejected=1))})
    status, _, body = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 200
    response = ExportTraceServiceResponse.FromString(body)
    assert response.partial_success.rejected_spans == 1
    assert response.partial_success.error_message == "1 span over budget"
    json_body = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"},{"name":"b"}]}]}]}'
    status, _, body = await post(session, running.url(Signal.TRACES), json_body,
                                 {"Content-Type": "application/json"})
    assert status == 200
    assert orjson.loads(body) == {"partialSuccess": {"rejectedSpans": "1",
                                                     "errorMessage": "1 span over budget"}}
    raw = await grpc_export(running, VALID)
    assert ExportTraceServiceResponse.FromString(raw).partial_success.rejected_spans == 1
    assert running.metric("otelcol_receiver_accepted_spans_total", "otlp", "http") == 2
    assert running.metric("otelcol_receiver_refused_spans_total", "otlp", "http") == 2


async def test_pipeline_bug_is_retryable(start_receiver, session):
    running = await start_receiver(consumers={Signal.TRACES: RefusingConsumer(KeyError("oops"))})
    status, headers, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 503
    assert headers["Retry-After"] == "1"


async def test_signal_without_consumer(start_receiver, session):
    running = await start_receiver(consumers={Signal.LOGS: CollectingConsumer()})
    status, _, body = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 404
    assert "does not accept traces" in status_pb2.Status.FromString(body).message
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, VALID)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_overload_refuses_with_retry_hints(start_receiver, session):
    blocking = Blocking()
    config = receiver_config({"overload": {"max_inflight_requests": 1, "retry_after": "2s"}})
    running = await start_receiver(config, {Signal.TRACES: blocking})
    first = asyncio.create_task(post(session, running.url(Signal.TRACES), VALID, PB))
    await asyncio.wait_for(blocking.entered.wait(), 10)
    status, headers, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    # too much in flight: 429 / RESOURCE_EXHAUSTED, retried by the SDKs and the Collector
    assert status == 429
    assert headers["Retry-After"] == "2"
    assert headers["Connection"] == "close"  # the body was not read
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, VALID)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_delay(info.value) == 2
    # the RetryInfo alone too: the OpenTelemetry Python SDK reads this trailer
    trailers = dict(info.value.trailing_metadata() or ())
    info_bin = trailers["google.rpc.retryinfo-bin"]
    assert error_details_pb2.RetryInfo.FromString(info_bin).retry_delay.seconds == 2
    blocking.release.set()
    assert (await first)[0] == 200
    assert blocking.items() == 2
    assert running.metric("otelcol_receiver_failed_requests_total", "otlp", "http",
                          "overloaded") == 1


async def test_overload_by_bytes(start_receiver, session):
    blocking = Blocking()
    config = receiver_config({"overload": {"max_inflight_bytes": len(VALID) + 10}})
    running = await start_receiver(config, {Signal.TRACES: blocking})
    first = asyncio.create_task(post(session, running.url(Signal.TRACES), VALID, PB))
    await asyncio.wait_for(blocking.entered.wait(), 10)
    status, _, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 429
    # what the limits apply to, as an operator sees it
    assert running.gauge("otelcol_receiver_inflight_requests") == 1
    assert running.gauge("otelcol_receiver_inflight_bytes") == len(VALID)
    blocking.release.set()
    assert (await first)[0] == 200
    assert running.gauge("otelcol_receiver_inflight_bytes") == 0


async def test_a_body_counts_in_flight_while_it_arrives(start_receiver) -> None:
    """A slow body holds its bytes from the first one: the next request is refused before
    its body is read (Content-Length counts at once, a chunked body as it grows)."""
    blocking = Blocking()
    config = receiver_config({"overload": {"max_inflight_bytes": 1000}})
    running = await start_receiver(config, {Signal.TRACES: blocking})
    host, port = "127.0.0.1", running.receiver.http_server.port
    _reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-"
                 b"protobuf\r\nTransfer-Encoding: chunked\r\n\r\n" +
                 b"%x\r\n%s\r\n" % (990, b"\x00" * 990))  # 990 bytes arrived, more to come
    await writer.drain()
    await eventually(lambda: running.receiver.inflight_bytes >= 990, 5, "the first chunk")
    assert len(VALID) > 10  # does not fit beside it
    async with aiohttp.ClientSession() as session:
        status, headers, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 429 and headers["Retry-After"]
    writer.close()
    await eventually(lambda: running.receiver.inflight_bytes == 0, 5, "the slow body released")


async def test_shutdown_lets_inflight_requests_finish(start_receiver, session):
    blocking = Blocking()
    running = await start_receiver(consumers={Signal.TRACES: blocking})
    url = running.url(Signal.TRACES)
    request = asyncio.create_task(post(session, url, VALID, PB))
    await asyncio.wait_for(blocking.entered.wait(), 10)
    shutdown = asyncio.create_task(running.receiver.shutdown())
    await asyncio.sleep(0.2)
    assert not shutdown.done()  # waiting for the request in the pipeline
    blocking.release.set()
    await asyncio.wait_for(shutdown, 10)
    assert (await request)[0] == 200
    assert blocking.items() == 2
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(session, url, VALID, PB)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
async def test_port_in_use_is_one_clear_line(start_receiver, protocol):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = receiver_config({"protocols": {protocol: {"endpoint": f"127.0.0.1:{port}"}}})
        with pytest.raises(OSError) as info:
            await start_receiver(config)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "\n" not in message


async def test_metadata_can_be_left_out(start_receiver, session):
    running = await start_receiver(receiver_config({"include_metadata": False}))
    await post(session, running.url(Signal.TRACES), VALID, {**PB, "X-Tenant": "t1"})
    await grpc_export(running, VALID, metadata=[("x-tenant", "t1")])
    senders = [b.parts[0].sender for b in running.consumers[Signal.TRACES].batches]
    assert [s.transport for s in senders] == ["http", "grpc"]
    assert all(s.metadata == {} for s in senders)
    assert all(s.peer == "127.0.0.1" for s in senders)


async def test_custom_url_paths(start_receiver, session):
    config = receiver_config({"protocols": {"http": {"traces_url_path": "hangar/spans"}}},
                             grpc=False)
    running = await start_receiver(config)
    status, _, _ = await post(session, f"{running.http_base}/hangar/spans", VALID, PB)
    assert status == 200
    async with session.post(running.url(Signal.TRACES), data=VALID, headers=PB) as resp:
        assert resp.status == 404
    assert running.receiver.grpc_server is None
