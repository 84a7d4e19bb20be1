"""The prometheusremotewrite exporter against a real aiohttp server on 127.0.0.1 that reads
what a remote-write receiver reads: the headers, a snappy block, a WriteRequest; retries
on 503 with Retry-After, gives up at once on 400."""

from __future__ import annotations

from typing import Any

import cramjam
import pytest
from aiohttp import web

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.connectors.mcp_metrics.otlp import build as build_points
from hangar_otelcol.exporters.prometheus.metrics import ToolMetrics
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.proto.prometheus.remote_pb2 import WriteRequest
from hangar_otelcol.registry import default_registry
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.connectors.mcp_metrics.test_otlp_points import fact


class Receiver:
    """Answers each request with the next status of ``script`` (then 204)."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = script
        self.requests: list[tuple[dict[str, str], WriteRequest]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = bytes(cramjam.snappy.decompress_raw(await request.read()))
        self.requests.append((dict(request.headers), WriteRequest.FromString(body)))
        status, headers = self.script.pop(0) if self.script else (204, {})
        return web.Response(status=status, headers=headers, text="" if status < 300
                            else "out of order sample")

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/api/v1/write", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def exporter(port: int, **raw: Any) -> Any:
    factory = default_registry().get(Kind.EXPORTER, "prometheusremotewrite")
    assert factory is not None
    config = build(factory.config_class, {
        "endpoint": f"http://127.0.0.1:{port}/api/v1/write",
        # sent in the caller's task: its outcome is the consume() call's
        "sending_queue": {"enabled": False},
        "retry_on_failure": {"initial_interval": "20ms", "max_interval": "50ms",
                             "max_elapsed_time": "3s"}, **raw}, "exporters.prw")
    return factory.create(make_settings(Kind.EXPORTER, "prometheusremotewrite", Telemetry()),
                          config)


def batch() -> Batch:
    metrics = ToolMetrics()
    metrics.record(fact())
    request, _, _ = build_points(metrics.frozen(), {"service.name": "hangar-otelcol"}, 0,
                                 1_000_000_000)
    return Batch.of(Signal.METRICS, request)


@pytest.fixture
async def run():  # type: ignore[no-untyped-def]
    made: list[Any] = []

    async def start(script: list, **raw: Any) -> tuple[Receiver, Any]:
        receiver = await Receiver(script).start()
        exp = exporter(receiver.port, **raw)
        await exp.start(StandaloneHost())
        made.append((receiver, exp))
        return receiver, exp

    yield start
    for receiver, exp in made:
        await exp.shutdown()
        await receiver.stop()


async def test_a_write_request_with_the_remote_write_headers_and_basic_auth(run) -> None:
    receiver, exp = await run([], basic_auth={"username": "123456", "password": "glc_tok"},
                              external_labels={"cluster": "eu-1"})
    await exp.consume(batch())
    headers, write = receiver.requests[0]
    assert headers["Content-Encoding"] == "snappy"
    assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["Authorization"] == "Basic MTIzNDU2OmdsY190b2s="
    names = {ts.labels[0].value for ts in write.timeseries}
    assert "mcp_hangar_tool_calls_total" in names and "mcp_hangar_cost_cents_total" in names
    calls = next(ts for ts in write.timeseries
                 if ts.labels[0].value == "mcp_hangar_tool_calls_total")
    assert {(label.name, label.value) for label in calls.labels} >= {
        ("cluster", "eu-1"), ("job", "hangar-otelcol"), ("tool", "add")}
    assert [(s.value, s.timestamp) for s in calls.samples] == [(1.0, 1000)]


async def test_503_is_retried_after_its_hint_and_400_is_permanent(run) -> None:
    receiver, exp = await run([(503, {"Retry-After": "0"}), (204, {})])
    await exp.consume(batch())
    assert len(receiver.requests) == 2  # retried once, then written
    receiver, exp = await run([(400, {})])
    with pytest.raises(ConsumerError) as caught:
        await exp.consume(batch())
    assert caught.value.permanent and "HTTP 400" in str(caught.value)
    assert "out of order sample" in str(caught.value)
    assert len(receiver.requests) == 1
