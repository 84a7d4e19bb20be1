"""The prometheus exporter: counts tool invocations (``counting.CallCounter``: exactly
once per record, durable with the queue, bounded cardinality) and serves them on /metrics.

A scrape copies the series on the event loop (a dict copy per family, ~1 ms at 10k series)
and renders the page in a thread, so a large page does not stop the receivers; scrapes
that arrive while a page in the same format is being rendered get that page.
"""

from __future__ import annotations

import asyncio
import gzip
import os
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.exporters.prometheus.config import PrometheusConfig
from hangar_otelcol.exporters.prometheus.counting import CallCounter
from hangar_otelcol.exporters.prometheus.metrics import (
    Frozen,
)
from hangar_otelcol.multiprocess import (
    FLUSH_INTERVAL_S,
    SeriesFiles,
    merged,
    shared_dir,
    worker_index,
)
from hangar_otelcol.net.http import HttpServer, serve
from hangar_otelcol.tasks import cancel_and_wait
from hangar_otelcol.telemetry import SafeCollector


class _WorkerFiles(SeriesFiles):
    """This worker's multiprocess files, which can also be replaced as a whole: a series
    that was evicted or expired must leave them (files only ever gain keys)."""

    def rewrite(self, frozen: Frozen) -> None:
        """New files with just ``frozen``, renamed over the old ones (a concurrent merge
        reads either)."""
        fresh = SeriesFiles(self._directory, f"new.{self._group}", self._worker)
        frozen.write_to(fresh)
        names = {prefix: (os.path.join(self._directory,
                                       f"{prefix}_{fresh._group}-w{self._worker}.db"),
                          os.path.join(self._directory,
                                       f"{prefix}_{self._group}-w{self._worker}.db"))
                 for prefix in fresh._files}
        fresh.close()
        self.close()
        for new, old in names.values():
            os.replace(new, old)


class PrometheusExporter(CallCounter):
    """Counts (``CallCounter``) and serves the series on /metrics."""

    def __init__(self, settings: CreateSettings, config: PrometheusConfig) -> None:
        super().__init__(settings, config)
        self._config = config
        # workers: N: every worker writes its counts to shared files; worker 0 serves the
        # sum of all of them on the configured endpoint (hangar_otelcol.multiprocess)
        self._shared_dir = shared_dir()
        self._group = f"prometheus-{settings.id}"
        self._files: _WorkerFiles | None = None
        self._files_lock = asyncio.Lock()
        self._removed_written = 0  # evicted + expired when the files were last written
        self._flusher: asyncio.Task[None] | None = None
        if self._shared_dir is not None:
            self._files = _WorkerFiles(self._shared_dir, self._group, worker_index())
        self._rendering: dict[Callable[..., bytes], asyncio.Future[bytes]] = {}
        self._server: HttpServer | None = None
        self.port: int | None = None

    async def open(self, host: Host) -> None:
        await super().open(host)
        if self._files is not None:
            await self._write_files()  # known_tools at 0 right away
            self._flusher = asyncio.create_task(self._flush_every(),
                                                name=f"{self.settings.id}-flush")
        app = web.Application()
        app.router.add_get(self._config.path, self._handle)
        self._server = await serve(app, self._config.endpoint,
                                   what=f"{self.settings.id} metrics",
                                   ssl_context=self._config.ssl_context())
        self.port = self._server.port
        self.logger.info("%s: serving %s on %s", self.settings.id, self._config.path,
                         self._config.endpoint)

    async def close(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
        await cancel_and_wait(self._flusher)
        self._flusher = None
        await super().close()
        if self._files is not None:
            await self._write_files()  # the last counts stay in the sum
            self._files.close()
            self._files = None

    # --- expiry and the multiprocess files ----------------------------------------------

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            await self._write_files()

    async def _write_files(self) -> None:
        """This worker's series into its files, in a thread; replaced as a whole when a
        series was evicted or expired since the last time."""
        files = self._files
        if files is None:
            return
        async with self._files_lock:
            stats = self.metrics.stats
            removed = stats.evicted + stats.expired
            frozen = self.metrics.frozen()
            if removed != self._removed_written:
                await asyncio.to_thread(files.rewrite, frozen)
            else:
                await asyncio.to_thread(frozen.write_to, files)
            self._removed_written = removed

    # --- scrapes ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        pending = self._rendering.get(encoder)
        if pending is None:
            pending = self._rendering[encoder] = asyncio.ensure_future(self._render(encoder))
            pending.add_done_callback(lambda _: self._rendering.pop(encoder, None))
        body = await asyncio.shield(pending)
        headers = {"Content-Type": content_type}
        if "gzip" in request.headers.get("Accept-Encoding", "") and len(body) > 4096:
            body = await asyncio.to_thread(gzip.compress, body, 1)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def _render(self, encoder: Callable[[CollectorRegistry], bytes]) -> bytes:
        """The page: a copy of the series taken now, rendered in a thread."""
        self.expire()
        registry = CollectorRegistry(auto_describe=False)
        if self._files is not None and self._shared_dir is not None:
            await self._write_files()  # this worker's share is current
            registry.register(SafeCollector(_Merged(self._shared_dir, self._group),
                                            self.problems))
        else:
            # a value the exposition cannot write is left out, never a 500 for every scrape
            registry.register(SafeCollector(self.metrics.frozen(), self.problems))
        return await asyncio.to_thread(encoder, registry)

    def render(self, accept: str = "") -> bytes:
        """The page, rendered here and now (bench/micro.py)."""
        encoder, _ = choose_encoder(accept)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(SafeCollector(self.metrics.frozen(), self.problems))
        return encoder(registry)

class _Merged:
    """Every worker's series of one group (``multiprocess.merged``), for a registry."""

    def __init__(self, directory: str, group: str) -> None:
        self._directory = directory
        self._group = group

    def collect(self) -> Any:
        return merged(self._directory, self._group)
