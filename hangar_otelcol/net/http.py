"""Serving an aiohttp application on an endpoint: the one way every HTTP listener of the
gateway starts (OTLP/HTTP receiver, Prometheus exporter, health check, self-metrics)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

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


class HttpServer:
    """A started aiohttp site; ``port`` is the bound port (useful with port 0)."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner: web.AppRunner | None = runner
        self.port = port

    async def stop(self) -> None:
        """Stop listening, then wait for the handlers that are running."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def serve(app: web.Application, endpoint: str, *, what: str,
                ssl_context: ssl.SSLContext | None = None, reuse_port: bool = False,
                shutdown_timeout: float = 5.0, auto_decompress: bool = True,
                backlog: int = 1024) -> HttpServer:
    """Listen on ``endpoint`` (``host:port``) with ``app``.

    ``backlog``: connections the kernel holds before they are accepted. aiohttp's 128
    overflowed under a burst of new connections (resets instead of answers); 1024 lets
    the receiver answer them, with a retryable refusal if it must (the kernel caps it at
    net.core.somaxconn).

    Raises OSError("cannot listen for <what> on <endpoint>: <reason>") when the port is in
    use or the address is not available: the service turns it into one start-up line.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           auto_decompress=auto_decompress, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    host, port = split_endpoint(endpoint)
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
    return HttpServer(runner, sockets[0].getsockname()[1] if sockets else port)
