"""Serving an aiohttp application on an endpoint: the one way every HTTP listener of the
gateway starts (OTLP/HTTP receiver, Prometheus exporter, health check, self-metrics)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

from hangar_otelcol.net.endpoints import endpoint_problem, split_endpoint
from hangar_otelcol.net.tls import TLSServerConfig


@dataclass
class HttpServerConfig:
    """Where an HTTP endpoint of a component listens (its config embeds these keys)."""

    endpoint: str = "127.0.0.1:0"
    #: the URL path served
    path: str = "/"
    #: serve HTTPS (and with ``client_ca_file``, ask for client certificates)
    tls: TLSServerConfig | None = None

    def validate(self) -> list[str]:
        errors = []
        problem = endpoint_problem(self.endpoint)
        if problem:
            errors.append(problem)
        if not self.path.startswith("/"):
            errors.append(f"path: must start with '/', got {self.path!r}")
        return errors

    def ssl_context(self) -> ssl.SSLContext | None:
        return self.tls.ssl_context() if self.tls is not None and self.tls.enabled else None


@dataclass
class ConnectionLimits:
    """What one slow, idle or numerous client may hold (issue 13); 0 = no limit.

    aiohttp closes idle keep-alive connections (``keepalive_timeout``, 3630s by default)
    but has no deadline for the request headers, and no cap on connections: a slowloris
    client sending a header byte now and then held its connection forever, and 1,000 of
    them used the process's file descriptors up. ``serve`` enforces these with a thin
    protocol in front of aiohttp's (``_Guard``); the body's deadline is the handler's
    (it knows when it has read enough).
    """

    #: from the connection's first byte until the headers of its first request are
    #: complete, and from the first byte of each next request on a keep-alive connection
    read_header_timeout: float = 0.0
    #: a keep-alive connection with no request for this long is closed (aiohttp's own)
    idle_timeout: float = 0.0
    #: open connections; the next is answered 503 and closed without being read
    max_connections: int = 0
    #: called with "header_timeout" or "too_many_connections" (a counter, a log line)
    on_refused: Callable[[str], None] | None = None


_408 = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
_503 = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
        b"Content-Length: 0\r\n\r\n")


class _Guard(asyncio.Protocol):
    """One connection, in front of aiohttp's RequestHandler (which it forwards to).

    It counts the connection against ``max_connections`` and runs the header deadline:
    armed when the connection is made and at the first byte after each request, disarmed
    when the application sees the request (a middleware calls ``headers_done``). When it
    fires, the client gets a 408 and the connection is closed.
    """

    def __init__(self, guards: _Guards, factory: Callable[[], Any]) -> None:
        self._guards = guards
        self._factory = factory
        self._inner: Any = None  # aiohttp's RequestHandler, once accepted
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._in_request = False
        self._armed_at_next_byte = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        guards = self._guards
        limits = guards.limits
        # uvloop's transports are not asyncio.Transport subclasses (they quack alike)
        transport = cast(asyncio.Transport, transport)
        if limits.max_connections and len(guards.open) >= limits.max_connections:
            guards.refused("too_many_connections")
            transport.write(_503)
            transport.close()
            return
        self._transport = transport
        guards.open[transport] = self
        self._inner = self._factory()
        self._inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._armed_at_next_byte:
            self._armed_at_next_byte = False
            self._arm()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._transport is not None:
            self._guards.open.pop(self._transport, None)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    # the request's life, as the application sees it
    def headers_done(self) -> None:
        self._in_request = True
        self._armed_at_next_byte = False
        self._disarm()

    def request_done(self) -> None:
        self._in_request = False
        self._armed_at_next_byte = True  # the next request's deadline starts at its byte

    def _arm(self) -> None:
        self._disarm()
        timeout = self._guards.limits.read_header_timeout
        if timeout > 0 and not self._in_request:
            self._timer = asyncio.get_running_loop().call_later(timeout, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        transport = self._transport
        if self._in_request or transport is None or transport.is_closing():
            return
        self._guards.refused("header_timeout")
        transport.write(_408)
        self._inner.force_close()  # closes the transport once the 408 is written


class _Guards:
    """The guarded connections of one listener."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open: dict[asyncio.BaseTransport, _Guard] = {}

    def refused(self, reason: str) -> None:
        if self.limits.on_refused is not None:
            self.limits.on_refused(reason)

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        guard = self.open.get(request.transport) if request.transport is not None else None
        if guard is None:
            return await handler(request)
        guard.headers_done()
        try:
            return await handler(request)
        finally:
            guard.request_done()


class _GuardedSite(web.TCPSite):
    """TCPSite with ``_Guard`` in front of each connection (its ``start`` as aiohttp's,
    with the protocol factory wrapped)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guards: _Guards,
                 **kwargs: Any) -> None:
        super().__init__(runner, host, port, **kwargs)
        self.guards = guards
        self.where = (host, port, kwargs.get("ssl_context"), kwargs.get("backlog", 128),
                      kwargs.get("reuse_port"))

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        factory = self._runner.server
        assert factory is not None
        host, port, ssl_context, backlog, reuse_port = self.where
        guards = self.guards
        extra: dict[str, Any] = {}
        if ssl_context is not None and guards.limits.read_header_timeout > 0:
            # the TLS handshake comes before the headers (asyncio's default: 60s)
            extra["ssl_handshake_timeout"] = guards.limits.read_header_timeout
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _Guard(guards, factory), host, port, ssl=ssl_context, backlog=backlog,
            reuse_port=reuse_port, **extra)


class HttpServer:
    """A started aiohttp site; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, runner: web.AppRunner, port: int, guards: _Guards | None = None
                 ) -> None:
        self._runner: web.AppRunner | None = runner
        self.port = port
        self._guards = guards

    @property
    def connections(self) -> int:
        """Open connections (counted when ``serve`` was given limits; else 0)."""
        return len(self._guards.open) if self._guards is not None else 0

    async def stop(self) -> None:
        """Stop listening, then wait for the handlers that are running."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def serve(app: web.Application, endpoint: str, *, what: str,
                ssl_context: ssl.SSLContext | None = None, reuse_port: bool = False,
                shutdown_timeout: float = 5.0, auto_decompress: bool = True,
                backlog: int = 1024, limits: ConnectionLimits | None = None) -> HttpServer:
    """Listen on ``endpoint`` (``host:port``) with ``app``.

    ``backlog``: connections the kernel holds before they are accepted. aiohttp's 128
    overflowed under a burst of new connections (resets instead of answers); 1024 lets
    the receiver answer them, with a retryable refusal if it must (the kernel caps it at
    net.core.somaxconn).

    ``limits``: header deadline, idle timeout and connection cap (``ConnectionLimits``).

    Raises OSError("cannot listen for <what> on <endpoint>: <reason>") when the port is in
    use or the address is not available: the service turns it into one start-up line.
    """
    extra: dict[str, Any] = {}
    guards = None
    if limits is not None:
        guards = _Guards(limits)
        app.middlewares.append(guards.middleware)
        if limits.idle_timeout > 0:
            extra["keepalive_timeout"] = limits.idle_timeout
        # a body answered early (408, 413) is drained for at most 1s before the close
        # (aiohttp's lingering close: 10s by default, a stalled client's connection held)
        extra["lingering_time"] = 1.0
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           auto_decompress=auto_decompress, shutdown_timeout=shutdown_timeout,
                           **extra)
    await runner.setup()
    host, port = split_endpoint(endpoint)
    site: web.TCPSite
    if guards is not None:
        site = _GuardedSite(runner, host, port, guards, ssl_context=ssl_context,
                            reuse_port=reuse_port or None, backlog=backlog)
    else:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context,
                           reuse_port=reuse_port or None, backlog=backlog)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise OSError(f"cannot listen for {what} on {endpoint}: {exc.strerror or exc}"
                      ) from None
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or ()
    return HttpServer(runner, sockets[0].getsockname()[1] if sockets else port, guards)
