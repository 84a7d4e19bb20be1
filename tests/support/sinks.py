"""Real OTLP servers on 127.0.0.1 (downstream of the gateway or of an exporter).

``GrpcSink`` is a grpc.aio server with raw-bytes handlers; ``HttpSink`` an aiohttp server.
Each keeps every request it got (``received``) and answers from a script of failures or
delays first; with ``slow`` set it takes every request at once but answers only that many
seconds later (a backend that is slower than its clients' timeout still has the data).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import pytest
from aiohttp import web

from hangar_otelcol.pdata import Signal, decode
from hangar_otelcol.signals import SIGNALS
from hangar_otelcol.testing import free_port
from tests.support.otlp import items
from tests.support.waiting import eventually


@dataclass
class Received:
    signal: Signal
    body: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    path: str = ""


class _Sink:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.script: list[Any] = []
        self.attempts = 0
        self.slow = 0.0
        self.event = asyncio.Event()

    async def _scripted(self) -> Any:
        """The next scripted answer (None: answer normally), after any scripted delays."""
        while self.script:
            step = self.script.pop(0)
            if not isinstance(step, (int, float)):
                return step
            await asyncio.sleep(step)
        return None

    async def _keep(self, received: Received) -> None:
        self.received.append(received)
        self.event.set()
        if self.slow:
            await asyncio.sleep(self.slow)

    async def wait_for(self, n: int, timeout: float = 10.0) -> None:
        """Until ``n`` requests arrived."""
        async def loop() -> None:
            while len(self.received) < n:
                self.event.clear()
                await self.event.wait()
        await asyncio.wait_for(loop(), timeout)

    def requests(self, signal: Signal | str) -> list[bytes]:
        """The bodies received for one signal, in arrival order."""
        return [r.body for r in self.received if r.signal is Signal(signal)]

    def records(self, signal: Signal | str) -> list[tuple[Any, Any, Any]]:
        """(resource, scope, item) of every span / log record / metric received."""
        return [x for body in self.requests(signal)
                for x in items(signal, decode(Signal(signal), body).message)]

    def item_count(self, signal: Signal | str) -> int:
        return sum(decode(Signal(signal), body).item_count for body in self.requests(signal))

    async def wait_for_items(self, signal: Signal | str, count: int,
                             timeout: float = 20.0) -> None:
        """Until ``count`` items (spans, log records, metric points) of ``signal`` arrived."""
        await eventually(lambda: self.item_count(signal) >= count, timeout,
                         lambda: f"{count} {Signal(signal).value} items at the sink "
                                 f"(got {self.item_count(signal)})", interval=0.05)


class GrpcSink(_Sink):
    """An OTLP/gRPC server; ``script`` items are consumed one per request:
    ``(StatusCode, details, trailing_metadata)`` to fail, a float to delay first."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.response = b""
        self._server: grpc.aio.Server | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _handler(self, signal: Signal) -> Any:
        async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            self.attempts += 1
            step = await self._scripted()
            if step is not None:
                code, details, trailing = step
                await context.abort(code, details, trailing_metadata=trailing or ())
            meta = {k: v for k, v in context.invocation_metadata() or ()
                    if isinstance(v, str)}
            await self._keep(Received(signal, request, meta))
            return self.response
        return grpc.unary_unary_rpc_method_handler(export)

    async def start(self, tls: tuple[bytes, bytes] | None = None,
                    client_ca: bytes | None = None) -> GrpcSink:
        server = grpc.aio.server()
        for signal, info in SIGNALS.items():
            server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
                info.grpc_service, {"Export": self._handler(signal)})])
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


class HttpSink(_Sink):
    """An OTLP/HTTP server; ``script`` items are ``web.Response``s or delays (floats)."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.response: web.Response | None = None
        self._runner: web.AppRunner | None = None

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        body = await request.read()  # aiohttp has already undone Content-Encoding
        step = await self._scripted()
        if step is not None:
            return step  # type: ignore[no-any-return]
        last = request.path.rsplit("/", 1)[-1]
        signal = Signal(last) if last in Signal._value2member_map_ else Signal.TRACES
        received = Received(signal, body, {k.lower(): v for k, v in request.headers.items()},
                            request.path)
        received.metadata["raw-length"] = str(request.content_length)  # bytes on the wire
        await self._keep(received)
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


def sink_fixture(sink_class: type[GrpcSink] | type[HttpSink]) -> Any:
    """The fixture ``sink`` of a test module: a ``sink_class`` started on a free port and
    stopped after the test (``sink = sink_fixture(GrpcSink)``)."""
    @pytest.fixture
    async def sink() -> AsyncIterator[GrpcSink | HttpSink]:
        started = await sink_class().start()
        yield started
        await started.stop()
    return sink
