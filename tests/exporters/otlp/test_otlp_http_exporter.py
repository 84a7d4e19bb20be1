"""The ``otlp_http`` exporter against a real aiohttp OTLP/HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.exporters.otlp.config import OTLPHttpConfig
from hangar_otelcol.exporters.otlp.http_exporter import parse_retry_after
from hangar_otelcol.pdata import Signal
from hangar_otelcol.registry import default_registry
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, deliver, free_port, make_settings, started
from tests.support.otlp import log_batch, metric_batch, trace_batch
from tests.support.sinks import HttpSink, sink_fixture
from tests.support.tls import self_signed
from tests.support.waiting import eventually

FAST_RETRY = {"initial_interval": "20ms", "max_interval": "50ms", "max_elapsed_time": "3s"}


def make(raw: dict[str, Any], telemetry: Telemetry | None = None, type_: str = "otlp_http"
         ) -> Any:
    raw = {"retry_on_failure": FAST_RETRY, **raw}
    factory = default_registry().get(Kind.EXPORTER, type_)
    assert factory is not None
    config = build(factory.config_class, raw, f"exporters.{type_}")
    return factory.create(make_settings(Kind.EXPORTER, "otlp_http", telemetry or Telemetry()),
                          config)


def sample(telemetry: Telemetry, name: str) -> float:
    return telemetry.registry.get_sample_value(name, {"exporter": "otlp_http"}) or 0.0


sink = sink_fixture(HttpSink)


def test_defaults_and_alias() -> None:
    reg = default_registry()
    assert reg.get(Kind.EXPORTER, "otlphttp") is reg.get(Kind.EXPORTER, "otlp_http")
    c = OTLPHttpConfig()
    assert (c.timeout, c.compression, c.encoding) == (30.0, "gzip", "proto")


async def test_proto_gzip_headers_and_paths(sink: HttpSink) -> None:
    tel = Telemetry()
    exp = make({"endpoint": sink.url() + "/", "headers": {"Authorization": "Bearer glc_x",
                                                         "DD-API-KEY": "k", "X-Empty": ""}},
               tel, "otlphttp")
    batches = [trace_batch(40), log_batch(2), metric_batch(3)]
    await deliver(exp, *batches, until=lambda: sink.wait_for(3))
    by_path = {r.path: r for r in sink.received}
    assert set(by_path) == {"/v1/traces", "/v1/logs", "/v1/metrics"}
    for b in batches:
        r = by_path[f"/v1/{b.signal.value}"]
        assert r.body == b.wire()  # bytes unchanged after gunzip
        assert r.metadata["content-type"] == "application/x-protobuf"
        assert r.metadata["content-encoding"] == "gzip"
        assert r.metadata["authorization"] == "Bearer glc_x"
        assert r.metadata["dd-api-key"] == "k"
        assert "x-empty" not in r.metadata  # empty value: not sent
    assert int(by_path["/v1/traces"].metadata["raw-length"]) < len(batches[0].wire())
    assert sample(tel, "otelcol_exporter_sent_metric_points_total") == 3


async def test_per_signal_endpoints_and_no_compression(sink: HttpSink) -> None:
    exp = make({"traces_endpoint": sink.url() + "/otlp/t", "logs_endpoint": sink.url() + "/l",
                "metrics_endpoint": sink.url() + "/m", "compression": "none"})
    await deliver(exp, trace_batch(1), log_batch(1), until=lambda: sink.wait_for(2))
    assert [r.path for r in sink.received] == ["/otlp/t", "/l"]
    assert "content-encoding" not in sink.received[0].metadata


async def test_json_encoding(sink: HttpSink) -> None:
    exp = make({"endpoint": sink.url(), "encoding": "json", "compression": "none"})
    await exp.start(StandaloneHost())
    batch = trace_batch(2)
    await exp.consume(batch)
    await sink.wait_for(1)
    await exp.shutdown()
    r = sink.received[0]
    assert r.metadata["content-type"] == "application/json"
    doc = orjson.loads(r.body)
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [s["name"] for s in spans] == ["tools/call add 0", "tools/call add 1"]
    assert spans[1]["traceId"] == "01" * 16  # OTLP/JSON: hex ids


async def test_503_with_retry_after_then_ok(sink: HttpSink) -> None:
    tel = Telemetry()
    sink.script = [web.Response(status=503, headers={"Retry-After": "0"}),
                   web.Response(status=429, text="rate limited")]
    exp = make({"endpoint": sink.url()}, tel)
    await deliver(exp, trace_batch(2), until=lambda: sink.wait_for(1))
    assert sink.attempts == 3
    assert sample(tel, "otelcol_exporter_sent_spans_total") == 2


async def test_retry_after_is_honoured(sink: HttpSink) -> None:
    sink.script = [web.Response(status=503, headers={"Retry-After": "1"})]
    exp = make({"endpoint": sink.url()})
    await exp.start(StandaloneHost())
    started = time.monotonic()
    await exp.consume(trace_batch(1))
    await sink.wait_for(1)
    waited = time.monotonic() - started
    await exp.shutdown()
    assert waited >= 0.9  # not the 20ms backoff: the server asked for a second


def test_parse_retry_after() -> None:
    now = time.time()
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == \
        pytest.approx(30, abs=1.5)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


async def test_400_is_permanent_with_the_servers_message(sink: HttpSink) -> None:
    tel = Telemetry()
    status = status_pb2.Status(code=3, message="invalid span id length")
    sink.script = [web.Response(status=400, body=status.SerializeToString(),
                                content_type="application/x-protobuf")]
    exp = make({"endpoint": sink.url(), "sending_queue": {"wait_for_result": True}}, tel)
    await exp.start(StandaloneHost())
    with pytest.raises(ConsumerError, match="HTTP 400: invalid span id length") as err:
        await exp.consume(trace_batch(3))
    await exp.shutdown()
    assert err.value.permanent and sink.attempts == 1
    assert sample(tel, "otelcol_exporter_send_failed_spans_total") == 3


async def assert_fails_without_retry(sink: HttpSink) -> None:
    """A span sent to ``sink`` (which answers as the test set it up) is counted as failed
    after one attempt."""
    tel = Telemetry()
    exp = make({"endpoint": sink.url()}, tel)
    await deliver(exp, trace_batch(1), until=lambda: eventually(
        lambda: sample(tel, "otelcol_exporter_send_failed_spans_total") == 1))
    assert sink.attempts == 1


async def test_500_is_not_retried(sink: HttpSink) -> None:
    sink.script = [web.Response(status=500, text="boom")]
    await assert_fails_without_retry(sink)


async def test_slow_response_times_out_and_retries(sink: HttpSink) -> None:
    tel = Telemetry()
    sink.script = [3.0]
    exp = make({"endpoint": sink.url(), "timeout": "200ms"}, tel)
    await deliver(exp, trace_batch(2), until=lambda: eventually(
        lambda: sample(tel, "otelcol_exporter_sent_spans_total") == 2))
    assert sink.attempts >= 2


async def test_downstream_down_then_up() -> None:
    sink = HttpSink()
    tel = Telemetry()
    async with started(make({"endpoint": sink.url()}, tel)) as exp:
        await exp.consume(log_batch(4))
        await asyncio.sleep(0.15)
        assert sample(tel, "otelcol_exporter_sent_log_records_total") == 0
        await sink.start()
        try:
            await sink.wait_for(1)
        finally:
            await sink.stop()
    assert sample(tel, "otelcol_exporter_sent_log_records_total") == 4


async def test_partial_success_json_response_is_logged(sink: HttpSink, caplog: Any) -> None:
    resp = ExportLogsServiceResponse()
    resp.partial_success.rejected_log_records = 2
    resp.partial_success.error_message = "body too long"
    sink.response = web.Response(body=resp.SerializeToString(),
                                 content_type="application/x-protobuf")
    tel = Telemetry()
    exp = make({"endpoint": sink.url()}, tel)
    await deliver(exp, log_batch(5), until=lambda: sink.wait_for(1))
    assert "2 log_records rejected: body too long" in caplog.text
    assert sink.attempts == 1


async def test_unreadable_2xx_body_is_a_permanent_error(sink: HttpSink) -> None:
    sink.response = web.Response(body=b"\xff\xff\xff", content_type="application/x-protobuf")
    await assert_fails_without_retry(sink)


async def test_tls_ca_file_and_skip_verify(tmp_path: Path) -> None:
    cert, key, _, _ = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    sink = await HttpSink().start(ssl_context=server_ctx)
    tel = Telemetry()
    try:
        for tls in ({"ca_file": str(cert)}, {"insecure_skip_verify": True}):
            exp = make({"endpoint": sink.url("https"), "tls": tls}, tel)
            await exp.start(StandaloneHost())
            await exp.consume(trace_batch(1))
            await exp.shutdown()
        await sink.wait_for(2)
        strict = make({"endpoint": sink.url("https"), "retry_on_failure": {
            "enabled": False}}, tel)
        await deliver(strict, trace_batch(7), until=lambda: eventually(
            lambda: sample(tel, "otelcol_exporter_send_failed_spans_total") == 7))
    finally:
        await sink.stop()
    assert len(sink.received) == 2


def test_config_errors() -> None:
    with pytest.raises(ConfigError) as err:
        build(OTLPHttpConfig, {"traces_endpoint": "ftp://x", "compression": "lz4",
                               "encoding": "xml", "headers": {"Bad Header": "v"}},
              "exporters.otlp_http")
    text = str(err.value)
    assert "exporters.otlp_http.endpoint: required" in text
    assert "exporters.otlp_http.traces_endpoint: 'ftp://x' must start with http" in text
    assert "exporters.otlp_http.compression: must be one of gzip, zstd, deflate, none" in text
    assert "exporters.otlp_http.encoding: must be one of proto, json" in text
    assert "exporters.otlp_http.headers.Bad Header: not a valid HTTP header" in text
    c = build(OTLPHttpConfig, {"endpoint": f"http://127.0.0.1:{free_port()}/otlp"})
    assert c.url_for(Signal.LOGS.value).endswith("/otlp/v1/logs")
