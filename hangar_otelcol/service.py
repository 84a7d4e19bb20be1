"""Service lifecycle: build the graph, start in dependency order, run, drain, stop.

Start: extensions, exporters, connectors, processors, receivers (every consumer
is ready before its producer). Stop on SIGTERM/SIGINT: health turns 503,
receivers stop first, then processors flush, connectors, exporters drain their
queues, extensions stop -- all within ``service.shutdown_timeout``. SIGHUP calls
``reload()`` on every component that has one.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import signal
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from hangar_otelcol.component import ComponentID, Kind
from hangar_otelcol.config.model import GatewayConfig
from hangar_otelcol.ledger import CAPABILITY as LEDGER
from hangar_otelcol.ledger.memory import MemoryLedger
from hangar_otelcol.multiprocess import (
    MergedCollector,
    SeriesFiles,
    flush_every,
    shared_dir,
    worker_index,
)
from hangar_otelcol.net.http import HttpServer, serve
from hangar_otelcol.pipeline import Graph, build
from hangar_otelcol.tasks import cancel_and_wait
from hangar_otelcol.telemetry import Telemetry

log = logging.getLogger("hangar_otelcol.service")


class StartupError(Exception):
    """A component could not start; the message is one line for the operator."""


class _Host:
    def __init__(self, graph: Graph, config: GatewayConfig) -> None:
        self._graph = graph
        self._config = config
        self._statuses: dict[str, tuple[bool, str]] = {}
        self._defaults: dict[str, Any] = {}
        self.ready = False

    def extension(self, component_id: ComponentID | str) -> Any:
        cid = component_id if isinstance(component_id, ComponentID) else \
            ComponentID.parse(component_id)
        found = self._graph.extensions.get(cid)
        if found is None:  # spelled with an alias of the extension's type
            for key, entry in self._config.extensions.items():
                if key.name == cid.name and cid.type in entry.factory.aliases:
                    return self._graph.extensions.get(key)
        return found

    def default_extension(self, capability: str) -> Any:
        """The service's own implementation of ``capability``, shared by every component
        that names none (one in-process ledger per service, not per process)."""
        if capability != LEDGER:
            return None
        if capability not in self._defaults:
            self._defaults[capability] = MemoryLedger()
        return self._defaults[capability]

    def report_status(self, component_id: ComponentID, kind: Kind, ok: bool, message: str
                      ) -> None:
        self._statuses[f"{kind.value}/{component_id}"] = (ok, message)

    def component_statuses(self) -> Mapping[str, tuple[bool, str]]:
        return dict(self._statuses)


class Service:
    def __init__(self, config: GatewayConfig, telemetry: Telemetry | None = None) -> None:
        self.config = config
        self.telemetry = telemetry or Telemetry()
        self.graph = build(config, self.telemetry)
        self.host = _Host(self.graph, config)
        self._started: list[tuple[Kind, ComponentID, Any]] = []
        self._stop = asyncio.Event()
        self._metrics_server: HttpServer | None = None
        # workers: N: self-metrics of every worker, summed where they are served
        self._shared_dir = shared_dir()
        self._self_files = SeriesFiles(self._shared_dir, "self", worker_index()) \
            if self._shared_dir else None
        self._flusher: asyncio.Task[None] | None = None

    # -- start ---------------------------------------------------------------
    async def start(self) -> None:
        """Start everything; on failure stop what started and raise StartupError."""
        try:
            await self._start_self_metrics()
            for kind, cid, component in self.graph.all_components():
                try:
                    await component.start(self.host)
                except Exception as exc:
                    raise StartupError(f"cannot start {kind.value} {cid}: {_one_line(exc)}"
                                       ) from exc
                self._started.append((kind, cid, component))
                self.host.report_status(cid, kind, True, "started")
        except BaseException:
            await self._stop_started(deadline=time.monotonic() + 5)
            raise
        self.host.ready = True
        if self._self_files is not None:
            self._flusher = asyncio.create_task(
                flush_every(self.telemetry.write_to, self._self_files), name="self-flush")
        log.info("everything is ready; the gateway is running",
                 extra={"pipelines": sorted(self.config.pipelines)})

    async def _start_self_metrics(self) -> None:
        metrics = self.config.service.telemetry.metrics
        if metrics.level == "none" or not metrics.address:
            return
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        registry: Any = self.telemetry.registry
        if self._self_files is not None and self._shared_dir is not None:
            registry = MergedCollector(self.telemetry.write_to, self._self_files,
                                       self._shared_dir, "self")

        async def handle(_: web.Request) -> web.Response:
            body = generate_latest(registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/metrics", handle)
        try:
            self._metrics_server = await serve(app, metrics.address, what="self-metrics")
        except OSError as exc:
            raise StartupError(str(exc)) from exc

    # -- run -----------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT, shut down. Returns the exit code."""
        loop = asyncio.get_running_loop()
        try:
            await self.start()
        except StartupError as exc:
            log.error(str(exc))
            return 1
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
            installed.append(sig)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        installed.append(signal.SIGHUP)
        if self.config.service.tune_allocator:
            gc.freeze()  # start-up objects never need collecting again
        try:
            await self._stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
        return await self.shutdown()

    async def reload(self) -> None:
        log.info("SIGHUP: reloading components that support it")
        for kind, cid, component in self._started:
            reload = getattr(component, "reload", None)
            if reload is None:
                continue
            try:
                await reload()
            except Exception as exc:
                log.error(f"{kind.value} {cid}: reload failed: {_one_line(exc)}")

    # -- stop ----------------------------------------------------------------
    async def shutdown(self) -> int:
        timeout = float(self.config.service.shutdown_timeout)
        log.info("shutting down", extra={"deadline_s": timeout})
        self.host.ready = False
        clean = await self._stop_started(deadline=time.monotonic() + timeout)
        await cancel_and_wait(self._flusher)
        if self._self_files is not None:
            self.telemetry.write_to(self._self_files)  # the last counts stay in the sum
            self._self_files.close()
        log.info("shutdown complete" if clean else "shutdown finished after the deadline; "
                 "data still queued was dropped")
        return 0

    async def _stop_started(self, deadline: float) -> bool:
        clean = True
        # reverse start order: receivers, processors (first first), connectors, exporters, ...
        order = list(reversed(self._started))
        processors = [e for e in order if e[0] == Kind.PROCESSOR]
        order = [e for e in order if e[0] == Kind.RECEIVER] + list(reversed(processors)) + \
            [e for e in order if e[0] not in (Kind.RECEIVER, Kind.PROCESSOR)]
        for kind, cid, component in order:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                await asyncio.wait_for(component.shutdown(), remaining)
            except TimeoutError:
                clean = False
                log.error(f"{kind.value} {cid}: did not stop before the shutdown deadline")
            except Exception as exc:
                clean = False
                log.error(f"{kind.value} {cid}: error while stopping: {_one_line(exc)}")
            self.host.report_status(cid, kind, False, "stopped")
        self._started.clear()
        if self._metrics_server is not None:
            await self._metrics_server.stop()
            self._metrics_server = None
        return clean


def tune_allocator() -> None:
    """Raise glibc's mmap/trim thresholds: ~200 fewer page faults per 260 KB request
    (bench/README.md). Memory freed after bursts is then kept for reuse."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    # glibc refuses an mmap threshold above 32 MiB on 64-bit (HEAP_MAX_SIZE / 2)
    libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
    libc.mallopt(m_trim_threshold, 256 * 1024 * 1024)
    libc.mallopt(m_top_pad, 64 * 1024 * 1024)


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())
