"""The ``otlp`` (gRPC) exporter against a real grpc.aio OTLP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration as PbDuration
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.exporters.otlp.config import OTLPGrpcConfig
from hangar_otelcol.exporters.otlp.factory import FACTORIES
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.registry import default_registry
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, deliver, free_port, make_settings, started
from tests.support import captures
from tests.support.otlp import log_batch, metric_batch, trace_batch
from tests.support.sinks import GrpcSink, sink_fixture
from tests.support.tls import self_signed
from tests.support.waiting import eventually

FAST_RETRY = {"initial_interval": "20ms", "max_interval": "50ms", "max_elapsed_time": "3s"}


def make(raw: dict[str, Any], telemetry: Telemetry | None = None) -> Any:
    raw = {"tls": {"insecure": True}, "retry_on_failure": FAST_RETRY, **raw}
    factory = default_registry().get(Kind.EXPORTER, "otlp")
    assert factory is not None
    config = build(factory.config_class, raw, "exporters.otlp")
    return factory.create(make_settings(Kind.EXPORTER, "otlp", telemetry or Telemetry()), config)


def sample(telemetry: Telemetry, name: str) -> float:
    return telemetry.registry.get_sample_value(name, {"exporter": "otlp"}) or 0.0


sink = sink_fixture(GrpcSink)


async def test_aliases_and_defaults() -> None:
    reg = default_registry()
    assert reg.get(Kind.EXPORTER, "otlp_grpc") is reg.get(Kind.EXPORTER, "otlp") is FACTORIES[0]
    c = OTLPGrpcConfig()
    assert (c.compression, c.timeout, c.tls.insecure, c.balancer_name) == (
        "gzip", 5.0, False, "round_robin")
    assert c.sending_queue.queue_size == 1000 and c.retry_on_failure.max_elapsed_time == 300


async def test_bytes_arrive_unchanged_for_every_signal(sink: GrpcSink) -> None:
    tel = Telemetry()
    batches = [trace_batch(5), log_batch(3), metric_batch(4)]
    await deliver(make({"endpoint": sink.endpoint}, tel), *batches,
                  until=lambda: sink.wait_for(3))
    got = {r.signal: r.body for r in sink.received}
    for b in batches:
        assert got[b.signal] == b.parts[0].wire()  # byte for byte, metrics untouched too
    assert sample(tel, "otelcol_exporter_sent_spans_total") == 5
    assert sample(tel, "otelcol_exporter_sent_log_records_total") == 3
    assert sample(tel, "otelcol_exporter_sent_metric_points_total") == 4


async def test_batch_of_several_parts_arrives_as_one_request(sink: GrpcSink) -> None:
    a, b = trace_batch(2, "a"), trace_batch(3, "b")
    await deliver(make({"endpoint": sink.endpoint}), Batch(Signal.TRACES, a.parts + b.parts),
                  until=lambda: sink.wait_for(1))
    req = ExportTraceServiceRequest.FromString(sink.received[0].body)
    names = [s.name for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert names == ["a 0", "a 1", "b 0", "b 1", "b 2"]


async def test_hangar_capture_is_forwarded_byte_for_byte(sink: GrpcSink) -> None:
    from hangar_otelcol import otlpjson

    capture = next(c for c in captures.captures("2.34.4") if c.signal is Signal.TRACES)
    part = otlpjson.decode(Signal.TRACES, json.dumps(capture.request))
    batch = Batch.of(Signal.TRACES, part)
    exp = make({"endpoint": sink.endpoint})
    await deliver(exp, batch, until=lambda: sink.wait_for(1))
    assert ExportTraceServiceRequest.FromString(sink.received[0].body) == part
    assert batch.item_count > 0


async def test_headers_arrive_as_metadata(sink: GrpcSink) -> None:
    exp = make({"endpoint": f"http://{sink.endpoint}",
                "headers": {"api-key": "dd-secret", "x-scope-orgid": "tenant-1",
                            "authorization": ""}})
    await deliver(exp, trace_batch(1), until=lambda: sink.wait_for(1))
    meta = sink.received[0].metadata
    assert meta["api-key"] == "dd-secret" and meta["x-scope-orgid"] == "tenant-1"
    assert "authorization" not in meta  # empty value (an unset ${env:X:-}): not sent


class CountingProxy:
    """A TCP forwarder that counts client->server bytes (to see compression on the wire)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.upstream_bytes = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    count: bool) -> None:
        try:
            while data := await reader.read(65536):
                if count:
                    self.upstream_bytes += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for t in (self._pipe(reader, up_writer, True), self._pipe(up_reader, writer, False)):
            task = asyncio.create_task(t)
            self._tasks.add(task)

    async def start(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._server is not None:
            self._server.close()


@pytest.mark.parametrize("compression", ["gzip", "none"])
async def test_compression_on_the_wire(sink: GrpcSink, compression: str) -> None:
    proxy = await CountingProxy(sink.port).start()
    exp = make({"endpoint": f"127.0.0.1:{proxy.port}", "compression": compression})
    batch = trace_batch(2000)  # repetitive: compresses well
    raw_size = len(batch.wire())
    await deliver(exp, batch, until=lambda: sink.wait_for(1))
    await proxy.stop()
    assert sink.received[0].body == batch.wire()
    if compression == "gzip":
        assert proxy.upstream_bytes < raw_size / 3
    else:
        assert proxy.upstream_bytes > raw_size


async def test_unavailable_is_retried_then_delivered(sink: GrpcSink) -> None:
    tel = Telemetry()
    sink.script = [(grpc.StatusCode.UNAVAILABLE, "overloaded", None)] * 2
    exp = make({"endpoint": sink.endpoint}, tel)
    await deliver(exp, trace_batch(3), until=lambda: sink.wait_for(1))
    assert sink.attempts == 3 and len(sink.received) == 1
    assert sample(tel, "otelcol_exporter_sent_spans_total") == 3


def _retry_info_trailer(seconds: float) -> tuple[tuple[str, bytes], ...]:
    info = error_details_pb2.RetryInfo(retry_delay=PbDuration(
        seconds=int(seconds), nanos=int((seconds % 1) * 1e9)))
    status = status_pb2.Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0],
                               message="slow down")
    status.details.add().Pack(info)
    return (("grpc-status-details-bin", status.SerializeToString()),)


async def test_resource_exhausted_is_retried_only_with_retry_info(sink: GrpcSink) -> None:
    tel = Telemetry()
    sink.script = [(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", _retry_info_trailer(0.1))]
    exp = make({"endpoint": sink.endpoint}, tel)
    await exp.start(StandaloneHost())
    await exp.consume(trace_batch(2))
    await sink.wait_for(1)
    assert sink.attempts == 2
    sink.script = [(grpc.StatusCode.RESOURCE_EXHAUSTED, "memory limiter", None)]
    await exp.consume(trace_batch(4))
    await eventually(lambda: sample(tel, "otelcol_exporter_send_failed_spans_total") == 4)
    await exp.shutdown()
    assert sink.attempts == 3 and len(sink.received) == 1


async def test_invalid_argument_is_permanent(sink: GrpcSink, caplog: Any) -> None:
    tel = Telemetry()
    sink.script = [(grpc.StatusCode.INVALID_ARGUMENT, "span has no trace id", None)]
    exp = make({"endpoint": sink.endpoint,
                "sending_queue": {"wait_for_result": True}}, tel)
    await exp.start(StandaloneHost())
    with pytest.raises(ConsumerError) as err:
        await exp.consume(trace_batch(2))
    await exp.shutdown()
    assert err.value.permanent
    assert "INVALID_ARGUMENT" in str(err.value) and "span has no trace id" in str(err.value)
    assert sink.attempts == 1
    assert sample(tel, "otelcol_exporter_send_failed_spans_total") == 2


async def test_slow_server_times_out_and_is_retried(sink: GrpcSink) -> None:
    tel = Telemetry()
    sink.script = [3.0]  # the first request hangs past the 200ms timeout
    exp = make({"endpoint": sink.endpoint, "timeout": "200ms"}, tel)
    await deliver(exp, trace_batch(2), until=lambda: eventually(
        lambda: sample(tel, "otelcol_exporter_sent_spans_total") == 2))
    assert sink.attempts >= 2 and len(sink.received) >= 1


async def test_downstream_down_then_up() -> None:
    port = free_port()
    tel = Telemetry()
    async with started(make({"endpoint": f"127.0.0.1:{port}"}, tel)) as exp:
        await exp.consume(trace_batch(3))
        await asyncio.sleep(0.2)  # a few failed attempts against a closed port
        assert sample(tel, "otelcol_exporter_sent_spans_total") == 0
        sink = await GrpcSink(port).start()
        try:
            await sink.wait_for(1)
        finally:
            await sink.stop()
    assert sample(tel, "otelcol_exporter_sent_spans_total") == 3
    assert sample(tel, "otelcol_exporter_send_failed_spans_total") == 0


async def test_partial_success_is_logged_not_retried(sink: GrpcSink, caplog: Any) -> None:
    resp = ExportTraceServiceResponse()
    resp.partial_success.rejected_spans = 1
    resp.partial_success.error_message = "span 3 too large"
    sink.response = resp.SerializeToString()
    exp = make({"endpoint": sink.endpoint})
    await exp.start(StandaloneHost())
    with caplog.at_level(logging.WARNING):
        await exp.consume(trace_batch(4))
        await exp.consume(trace_batch(4))
        await sink.wait_for(2)
        await exp.shutdown()
    assert sink.attempts == 2
    assert caplog.text.count("span 3 too large") == 1


async def test_tls_with_self_signed_ca(tmp_path: Path) -> None:
    cert, key, _, _ = self_signed(tmp_path)
    sink = await GrpcSink().start(tls=(key.read_bytes(), cert.read_bytes()))
    tel = Telemetry()
    try:
        exp = make({"endpoint": f"https://{sink.endpoint}", "tls": {"ca_file": str(cert)}}, tel)
        await deliver(exp, trace_batch(2), until=lambda: sink.wait_for(1))
        # the same server without trusting its certificate: never delivered
        untrusting = make({"endpoint": sink.endpoint, "tls": {},
                           "retry_on_failure": {"initial_interval": "20ms",
                                                "max_elapsed_time": "200ms"}}, tel)
        await deliver(untrusting, trace_batch(5), until=lambda: eventually(
            lambda: sample(tel, "otelcol_exporter_send_failed_spans_total") == 5))
    finally:
        await sink.stop()
    assert len(sink.received) == 1


async def test_mutual_tls(tmp_path: Path) -> None:
    ca_cert_path, _, ca_cert, ca_key = self_signed(tmp_path, "ca")
    srv_cert, srv_key, _, _ = self_signed(tmp_path, "server", ca=(ca_cert, ca_key))
    cli_cert, cli_key, _, _ = self_signed(tmp_path, "client", ca=(ca_cert, ca_key))
    sink = await GrpcSink().start(tls=(srv_key.read_bytes(), srv_cert.read_bytes()),
                                  client_ca=ca_cert_path.read_bytes())
    try:
        exp = make({"endpoint": sink.endpoint, "tls": {
            "ca_file": str(ca_cert_path), "cert_file": str(cli_cert), "key_file": str(cli_key),
            "server_name_override": "localhost"}})
        await deliver(exp, trace_batch(1), until=lambda: sink.wait_for(1))
    finally:
        await sink.stop()


def test_config_errors_are_specific(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        build(OTLPGrpcConfig, {"compression": "snappy", "headers": {"API-Key": "x"},
                               "tls": {"ca_file": str(tmp_path / "missing.pem"),
                                       "insecure_skip_verify": True, "cert_file": "/etc/hostname"}},
              "exporters.otlp")
    text = str(err.value)
    assert "exporters.otlp.endpoint: required" in text
    assert "exporters.otlp.compression: 'snappy' is not supported" in text
    assert "exporters.otlp.headers.API-Key: gRPC metadata keys must be lower-case" in text
    assert f"exporters.otlp.tls.ca_file: {tmp_path / 'missing.pem'} does not exist" in text
    assert "exporters.otlp.tls.cert_file: cert_file and key_file must be set together" in text
    assert "exporters.otlp.tls.insecure_skip_verify: not supported" in text
    with pytest.raises(ConfigError, match="has a path"):
        build(OTLPGrpcConfig, {"endpoint": "https://otlp.example.com:4317/v1/traces"})
