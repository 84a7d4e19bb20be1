from __future__ import annotations

import time

import orjson
from aiohttp import web

from hangar_otelcol.component import BaseComponent, CreateSettings, Host
from hangar_otelcol.extensions.health_check.config import HealthCheckConfig
from hangar_otelcol.net.http import HttpServer, serve


class HealthCheck(BaseComponent):
    def __init__(self, settings: CreateSettings, config: HealthCheckConfig) -> None:
        super().__init__(settings)
        self.config = config
        self._host: Host | None = None
        self._server: HttpServer | None = None
        self._since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    async def _handle(self, _: web.Request) -> web.Response:
        host = self._host
        failing = []
        if host is not None:
            failing = [name for name, (ok, _) in host.component_statuses().items() if not ok]
        up = host is not None and host.ready and not failing
        if up and self.config.response_body:
            return web.Response(text=self.config.response_body)
        body: dict[str, object] = {"status": "Server available" if up else
                                   "Server not available", "upSince": self._since}
        if failing:
            body["failing"] = failing
        return web.Response(body=orjson.dumps(body), status=200 if up else 503,
                            content_type="application/json")

    async def start(self, host: Host) -> None:
        self._host = host
        app = web.Application()
        app.router.add_get(self.config.path, self._handle)
        self._server = await serve(app, self.config.endpoint, what="health checks",
                                   ssl_context=self.config.ssl_context())

    async def shutdown(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
