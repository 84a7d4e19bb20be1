"""Real OTLP servers on 127.0.0.1 for exporter tests, with scripted failures.

``GrpcSink`` is a grpc.aio server with raw-bytes handlers; ``HttpSink`` an aiohttp
server. Each records what arrived and answers from a script of responses first.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.testing import free_port

SERVICES = {
    "opentelemetry.proto.collector.trace.v1.TraceService": Signal.TRACES,
    "opentelemetry.proto.collector.logs.v1.LogsService": Signal.LOGS,
    "opentelemetry.proto.collector.metrics.v1.MetricsService": Signal.METRICS,
}


def trace_batch(n: int, name: str = "tools/call add", service: str = "math") -> Batch:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    ss = rs.scope_spans.add()
    ss.scope.name = "mcp_hangar"
    for i in range(n):
        span = ss.spans.add(name=f"{name} {i}", trace_id=bytes([i % 256] * 16),
                            span_id=bytes([1 + i % 255] * 8), start_time_unix_nano=1_000 + i,
                            end_time_unix_nano=2_000 + i)
        a = span.attributes.add()
        a.key, a.value.int_value = "gen_ai.usage.input_tokens", i
    return Batch(Signal.TRACES, [_part(Signal.TRACES, req)])


def log_batch(n: int) -> Batch:
    req = ExportLogsServiceRequest()
    sl = req.resource_logs.add().scope_logs.add()
    for i in range(n):
        sl.log_records.add(time_unix_nano=i + 1).body.string_value = f"log {i}"
    return Batch(Signal.LOGS, [_part(Signal.LOGS, req)])


def metric_batch(n: int) -> Batch:
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    m = sm.metrics.add(name="mcp.cost.cents")
    m.sum.aggregation_temporality = 2
    m.sum.is_monotonic = True
    for i in range(n):
        m.sum.data_points.add(as_int=i, time_unix_nano=i + 1)
    return Batch(Signal.METRICS, [_part(Signal.METRICS, req)])


def _part(signal: Signal, req: Any) -> Any:
    from hangar_otelcol.pdata import decode

    return decode(signal, req.SerializeToString())  # with wire bytes, as a receiver makes


@dataclass
class Received:
    signal: Signal
    body: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    path: str = ""


class GrpcSink:
    """An OTLP/gRPC server; ``script`` items are consumed one per request:
    ``(StatusCode, details, trailing_metadata)`` to fail, a float to delay first."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.script: list[Any] = []
        self.attempts = 0
        self.response = b""
        self._server: grpc.aio.Server | None = None
        self.event = asyncio.Event()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _handler(self, signal: Signal) -> Any:
        async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self.attempts += 1
            while self.script:
                step = self.script.pop(0)
                if isinstance(step, (int, float)):
                    await asyncio.sleep(step)
                    continue
                code, details, trailing = step
                await context.abort(code, details, trailing_metadata=trailing or ())
            meta = {k: v for k, v in context.invocation_metadata() or ()
                    if isinstance(v, str)}
            self.received.append(Received(signal, request, meta))
            self.event.set()
            return self.response
        return grpc.unary_unary_rpc_method_handler(export)

    async def start(self, tls: tuple[bytes, bytes] | None = None,
                    client_ca: bytes | None = None) -> GrpcSink:
        server = grpc.aio.server()
        for service, signal in SERVICES.items():
            server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
                service, {"Export": self._handler(signal)})])
        address = f"127.0.0.1:{self.port}"
        if tls is None:
            server.add_insecure_port(address)
        else:
            key, cert = tls
            creds = grpc.ssl_server_credentials(
                [(key, cert)], root_certificates=client_ca,
                require_client_auth=client_ca is not None)
            server.add_secure_port(address, creds)
        await server.start()
        self._server = server
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(None)
            self._server = None

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        async def loop() -> None:
            while len(self.received) < n:
                self.event.clear()
                await self.event.wait()
        await asyncio.wait_for(loop(), timeout)


class HttpSink:
    """An OTLP/HTTP server; ``script`` items are ``web.Response``s or delays (floats)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.script: list[Any] = []
        self.attempts = 0
        self.response: web.Response | None = None
        self._runner: web.AppRunner | None = None
        self.event = asyncio.Event()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        raw = await request.read()
        while self.script:
            step = self.script.pop(0)
            if isinstance(step, (int, float)):
                await asyncio.sleep(step)
                continue
            return step  # type: ignore[no-any-return]
        body = raw  # aiohttp has already undone Content-Encoding
        signal = Signal(request.path.rsplit("/", 1)[-1]) if request.path.rsplit(
            "/", 1)[-1] in Signal._value2member_map_ else Signal.TRACES
        received = Received(signal, body, {k.lower(): v for k, v in request.headers.items()},
                            request.path)
        received.metadata["raw-length"] = str(request.content_length)  # bytes on the wire
        self.received.append(received)
        self.event.set()
        if self.response is not None:
            return self.response
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def start(self, ssl_context: Any = None) -> HttpSink:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=ssl_context)
        await site.start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        async def loop() -> None:
            while len(self.received) < n:
                self.event.clear()
                await self.event.wait()
        await asyncio.wait_for(loop(), timeout)


def self_signed(directory: Path, name: str = "server",
                ca: tuple[Any, Any] | None = None) -> tuple[Path, Path, Any, Any]:
    """A certificate for 127.0.0.1 / localhost (signed by ``ca`` if given, else by itself).

    Returns (cert path, key path, certificate, private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = ca if ca else (None, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert, key
