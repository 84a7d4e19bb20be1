"""Helpers for the otlp receiver tests: a started receiver, its config, valid requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.config.types import build
from hangar_otelcol.pdata import Signal
from hangar_otelcol.receivers.otlp.factory import FACTORY
from hangar_otelcol.receivers.otlp.receiver import OTLPReceiver
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import free_port


class Running:
    """A started receiver, its consumers and where it listens."""

    def __init__(self, receiver: OTLPReceiver, consumers: dict[Signal, Any],
                 telemetry: Telemetry) -> None:
        self.receiver = receiver
        self.consumers = consumers
        self.telemetry = telemetry

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.receiver.grpc_server.port}"  # type: ignore[union-attr]

    @property
    def http_base(self) -> str:
        return f"http://127.0.0.1:{self.receiver.http_server.port}"  # type: ignore[union-attr]

    def url(self, signal: Signal) -> str:
        return f"{self.http_base}/v1/{signal.value}"

    def metric(self, name: str, *labels: str) -> float:
        counter = self.telemetry.counter(name, "", ())
        return counter.get(labels)

    def gauge(self, name: str) -> float | None:
        """The receiver's gauge as its /metrics page shows it."""
        return self.telemetry.registry.get_sample_value(name, {"receiver": "otlp"})


Starter = Callable[..., Awaitable[Running]]


def receiver_config(extra: dict[str, Any] | None = None, grpc: bool = True,
                    http: bool = True) -> Any:
    protocols: dict[str, Any] = {}
    if grpc:
        protocols["grpc"] = {"endpoint": f"127.0.0.1:{free_port()}"}
    if http:
        protocols["http"] = {"endpoint": f"127.0.0.1:{free_port()}"}
    raw: dict[str, Any] = {"protocols": protocols}
    for key, value in (extra or {}).items():
        if key == "protocols":
            for proto, settings in value.items():
                protocols.setdefault(proto, {}).update(settings)
        else:
            raw[key] = value
    return build(FACTORY.config_class, raw)


MiB = 1024 * 1024
PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


def spans_request(n: int = 2, name: str = "tools/call add") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    for i in range(n):
        sp = ss.spans.add()
        sp.name = name
        sp.trace_id = bytes.fromhex(TRACE_ID)
        sp.span_id = i.to_bytes(8, "big")
    return req


VALID = spans_request().SerializeToString()


async def post(session, url, body, headers):
    async with session.post(url, data=body, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def grpc_export(running, body, signal=Signal.TRACES, **kwargs):
    async with grpc.aio.insecure_channel(running.grpc_target) as channel:
        return await channel.unary_unary(signal.info.grpc_method)(body, timeout=10,
                                                                        **kwargs)
