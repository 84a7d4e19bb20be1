"""The prometheus exporter: counts tool invocations and serves them on /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gzip

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from hangar_otelcol.component import BaseComponent, CreateSettings, Host
from hangar_otelcol.exporters.prometheus.config import PrometheusConfig
from hangar_otelcol.exporters.prometheus.metrics import ToolMetrics
from hangar_otelcol.ledger import Ledger, ledger_from
from hangar_otelcol.ledger.counting import counted
from hangar_otelcol.mcp import index
from hangar_otelcol.multiprocess import (
    MergedCollector,
    SeriesFiles,
    flush_every,
    shared_dir,
    worker_index,
)
from hangar_otelcol.net.http import HttpServer, serve
from hangar_otelcol.pdata import Batch, Signal


class PrometheusExporter(BaseComponent):
    mutates_data = False

    def __init__(self, settings: CreateSettings, config: PrometheusConfig) -> None:
        super().__init__(settings)
        self._config = config
        self._keys = config.invocations
        self.metrics = ToolMetrics(config.max_series, config.per_caller, config.caller_limit)
        self._ledger: Ledger | None = None
        for known in config.known_tools:
            self.metrics.preinit(known.mcp_server, known.tool, known.cost_model)
        self.registry = CollectorRegistry(auto_describe=False)
        # workers: N: every worker writes its counts to shared files; worker 0 serves the
        # sum of all of them on the configured endpoint (hangar_otelcol.multiprocess)
        self._shared_dir = shared_dir()
        self._files: SeriesFiles | None = None
        self._flusher: asyncio.Task[None] | None = None
        if self._shared_dir is not None:
            group = f"prometheus-{settings.id}"
            self._files = SeriesFiles(self._shared_dir, group, worker_index())
            self.registry.register(MergedCollector(
                self.metrics.write_to, self._files, self._shared_dir, group))
        else:
            self.registry.register(self.metrics)
        self._server: HttpServer | None = None
        self.port: int | None = None
        self._counted = self.telemetry.counter(
            "otelcol_exporter_prometheus_invocations_total",
            "Tool invocations counted into the mcp_hangar_* series")

    async def start(self, host: Host) -> None:
        if self._config.count_spans:
            self._ledger = ledger_from(host, self._config.ledger)
        if self._files is not None:
            self.metrics.write_to(self._files)  # known_tools at 0 right away
            self._flusher = asyncio.create_task(
                flush_every(self.metrics.write_to, self._files), name=f"{self.settings.id}-flush")
        app = web.Application()
        app.router.add_get(self._config.path, self._handle)
        self._server = await serve(app, self._config.endpoint,
                                   what=f"{self.settings.id} metrics",
                                   ssl_context=self._config.ssl_context())
        self.port = self._server.port
        self.logger.info("%s: serving %s on %s", self.settings.id, self._config.path,
                       self._config.endpoint)

    async def shutdown(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._files is not None:
            self.metrics.write_to(self._files)  # the last counts stay in the sum
            self._files.close()
            self._files = None

    async def _handle(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(self.registry)
        headers = {"Content-Type": content_type}
        if "gzip" in request.headers.get("Accept-Encoding", "") and len(body) > 4096:
            body = gzip.compress(body, 1)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def consume(self, batch: Batch) -> None:
        if batch.signal == Signal.METRICS:
            return  # OTLP metrics are not re-exposed (hangar sends none)
        n = 0
        record_all = self.metrics.record_all
        keys = self._keys
        for part in batch.parts:
            invs = index(part, keys)
            if invs:
                n += record_all(await counted(invs, self._ledger))
        if n:
            self._counted.inc(amount=n)
        self.settings.telemetry.sent(batch.signal, batch.item_count)

