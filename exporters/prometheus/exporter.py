"""The prometheus exporter: counts tool invocations and serves them on /metrics.

Counting is exactly once per record (docs/durability.md): every call is counted under its
record id (``mcp.ids.record_id``) and a record seen again is not counted again. With
``sending_queue.storage`` the calls to count are queued on disk first, and the counters
are saved with every checkpoint together with the queue position, so after a crash or a
restart they continue from their last value and what was queued is counted once.

Cardinality (docs/identity-and-cost.md, "Cardinality"): label values are cut to
``max_label_value_length``, each family keeps ``max_series`` series by recency (the
evicted ones folded into ``__other__``), and a series not updated for
``metric_expiration`` goes away, from /metrics and from the saved counters alike.

A scrape copies the series on the event loop (a dict copy per family, ~1 ms at 10k series)
and renders the page in a thread, so a large page does not stop the receivers; scrapes
that arrive while a page in the same format is being rendered get that page.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import os
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.exporterhelper import ExporterHelper
from hangar_otelcol.exporterhelper.seen import SeenWindow, short_id
from hangar_otelcol.exporters.prometheus.config import PrometheusConfig
from hangar_otelcol.exporters.prometheus.metrics import (
    Fact,
    Frozen,
    ToolMetrics,
    clip_fact,
    fact_of,
    too_long,
)
from hangar_otelcol.ledger import Ledger, ledger_from
from hangar_otelcol.ledger.counting import counted
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.mcp.ids import record_id
from hangar_otelcol.mcp.numbers import MAX_DURATION_MS, cost_in_range
from hangar_otelcol.multiprocess import (
    FLUSH_INTERVAL_S,
    SeriesFiles,
    merged,
    shared_dir,
    worker_index,
)
from hangar_otelcol.net.http import HttpServer, serve
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.tasks import cancel_and_wait
from hangar_otelcol.telemetry import SafeCollector

#: state key of the saved counters
COUNTERS = "counters"


class CountWork:
    """The calls of one batch to count, each with its short record id."""

    __slots__ = ("facts", "ids", "item_count", "signal")

    def __init__(self, facts: list[Fact], ids: list[int], signal: Signal) -> None:
        self.facts = facts
        self.ids = ids
        self.signal = signal
        self.item_count = len(facts)


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


class PrometheusExporter(ExporterHelper):
    checkpoint_interval = 1.0

    def __init__(self, settings: CreateSettings, config: PrometheusConfig) -> None:
        super().__init__(settings, config)
        self._config = config
        self._seen = SeenWindow(float(config.dedupe.window), config.dedupe.max_records)
        self._dirty = False
        self._expired: dict[str, bytes | None] = {}
        self._keys = config.invocations
        self._label_limit = config.max_label_value_length
        self.metrics = ToolMetrics(config.max_series, config.per_caller, config.caller_limit)
        self._ledger: Ledger | None = None
        for known in config.known_tools:
            self.metrics.preinit(known.mcp_server, known.tool, known.cost_model)
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
        self._expiration = float(config.metric_expiration)
        self._sweeper: asyncio.Task[None] | None = None
        self._server: HttpServer | None = None
        self.port: int | None = None
        self._counted = self.telemetry.counter(
            "otelcol_exporter_prometheus_invocations_total",
            "Tool invocations seen by the prometheus exporter, by outcome (counted; repeat: "
            "a record with the same record id was counted already)", ("outcome",))
        self._truncated = self.telemetry.counter(
            "otelcol_exporter_prometheus_truncated_labels_total",
            "Label values cut to max_label_value_length, by label", ("label",))
        self._dropped = self.telemetry.counter(
            "otelcol_exporter_prometheus_series_removed_total",
            "Series removed: evicted (max_series reached; the value is added to the "
            "__other__ series) or expired (not updated for metric_expiration)", ("reason",))
        self._reported = [0, 0]  # evicted, expired already counted in _dropped
        self.telemetry.gauge(
            "otelcol_exporter_prometheus_series", "Series on /metrics (histograms count "
            "one per label set)", self.metrics.series_count)

    async def open(self, host: Host) -> None:
        if self._config.count_spans:
            self._ledger = ledger_from(host, self._config.ledger)
        if self._files is not None:
            await self._write_files()  # known_tools at 0 right away
            self._flusher = asyncio.create_task(self._flush_every(),
                                                name=f"{self.settings.id}-flush")
        if self._expiration:
            self._sweeper = asyncio.create_task(self._sweep_every(),
                                                name=f"{self.settings.id}-expire")
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
        for task in (self._flusher, self._sweeper):
            await cancel_and_wait(task)
        self._flusher = self._sweeper = None
        if self._files is not None:
            await self._write_files()  # the last counts stay in the sum
            self._files.close()
            self._files = None

    # --- expiry and the multiprocess files ----------------------------------------------

    def expire(self) -> None:
        """Remove the series not updated for ``metric_expiration``."""
        if self._expiration:
            now = time.monotonic()
            if self.metrics.expire(now - self._expiration):
                self._dirty = True  # saved without them at the next checkpoint
        self._report_removed()

    def _report_removed(self) -> None:
        stats = self.metrics.stats
        evicted, expired = stats.evicted - self._reported[0], stats.expired - self._reported[1]
        if evicted:
            self._dropped.inc("evicted", amount=evicted)
        if expired:
            self._dropped.inc("expired", amount=expired)
        self._reported = [stats.evicted, stats.expired]

    async def _sweep_every(self) -> None:
        interval = min(max(self._expiration / 4, 0.05), 5.0)
        while True:
            await asyncio.sleep(interval)
            self.expire()

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

    def _clip(self, fact: Fact) -> Fact:
        fact, cut = clip_fact(fact, self._label_limit)
        for label in cut:
            self._truncated.inc(label)
        return fact

    async def to_work(self, batch: Batch) -> CountWork | None:
        if batch.signal == Signal.METRICS:
            return None  # OTLP metrics are not re-exposed (hangar sends none)
        facts: list[Fact] = []
        ids: list[int] = []
        keys, limit = self._keys, self._label_limit
        for part in batch.parts:
            invs = index(part, keys)
            if not invs:
                continue
            for inv in await counted(invs, self._ledger):
                if inv.event == TOOL_EVENT:
                    try:
                        fact = _checked_fact(fact_of(inv))
                        if too_long(fact, limit):
                            fact = self._clip(fact)
                        rid = short_id(record_id(inv))
                    except Exception as exc:  # one bad record never fails the others
                        self._bad_record("unreadable", exc)
                        continue
                    facts.append(fact)
                    ids.append(rid)
        return CountWork(facts, ids, batch.signal) if facts else None

    def _bad_record(self, reason: str, exc: BaseException) -> None:
        self.telemetry.bad_records(reason)
        self._counted.inc("bad_record")
        self.problems.warn("bad_record", "%s: a tool call left out of the counters (%s): %r",
                           self.settings.id, reason, exc, detail=type(exc).__name__)

    def _record(self, fact: Fact) -> bool:
        """Count one call; False (counted as a bad record) if that failed."""
        try:
            self.metrics.record(fact)
        except Exception as exc:
            self._bad_record("count_failed", exc)
            return False
        return True

    async def send(self, work: CountWork) -> None:
        seen, record = self._seen, self._record
        self.metrics.clock.now = time.monotonic()
        fresh = [rid for rid in work.ids if rid not in seen]
        failed = 0
        if len(fresh) == len(work.ids):
            for fact in work.facts:
                if not record(fact):
                    failed += 1
        else:  # some were counted already: a retry, or a replay after a restart
            known = set(work.ids) - set(fresh)
            for rid, fact in zip(work.ids, work.facts, strict=True):
                if rid not in known:
                    if not record(fact):
                        failed += 1
                    known.add(rid)  # the same record twice within one batch counts once
            repeats = len(work.ids) - len(fresh)
            self._counted.inc("repeat", amount=repeats)
        seen.add(fresh)
        self._counted.inc("counted", amount=len(fresh) - failed)
        self._dirty = True
        if self.metrics.stats.evicted != self._reported[0]:
            self._report_removed()

    def encode_work(self, work: CountWork) -> bytes:
        try:
            return orjson.dumps({"s": work.signal.value, "f": work.facts, "i": work.ids})
        except (TypeError, ValueError) as first:  # a value orjson cannot write: find it
            kept_facts, kept_ids = [], []
            for fact, rid in zip(work.facts, work.ids, strict=True):
                try:
                    orjson.dumps(fact)
                except (TypeError, ValueError) as exc:
                    self._bad_record("unencodable", exc)
                    continue
                kept_facts.append(fact)
                kept_ids.append(rid)
            if len(kept_facts) == len(work.facts):
                raise first
            work.facts, work.ids, work.item_count = kept_facts, kept_ids, len(kept_facts)
            return orjson.dumps({"s": work.signal.value, "f": work.facts, "i": work.ids})

    def decode_work(self, data: bytes) -> CountWork:
        raw = orjson.loads(data)
        return CountWork([tuple(f) for f in raw["f"]], raw["i"], Signal(raw["s"]))

    async def restore_state(self, state: dict[str, bytes]) -> None:
        if COUNTERS in state:
            self.metrics.clock.now = time.monotonic()  # a full metric_expiration from now
            self.metrics.restore(state[COUNTERS])
        self._expired = self._seen.restore(state)

    def checkpoint_state(self) -> dict[str, bytes | None]:
        out: dict[str, Any] = self._seen.checkpoint()
        if self._expired:
            out.update(self._expired)
            self._expired = {}
        if self._dirty:
            out[COUNTERS] = self.metrics.snapshot()
            self._dirty = False
        return out


class _Merged:
    """Every worker's series of one group (``multiprocess.merged``), for a registry."""

    def __init__(self, directory: str, group: str) -> None:
        self._directory = directory
        self._group = group

    def collect(self) -> Any:
        return merged(self._directory, self._group)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


def _checked_fact(fact: Fact) -> Fact:
    """``fact`` with the numbers a counter may add (the reader bounds them already,
    ``mcp.numbers``; this keeps a view made elsewhere from breaking the counters): a
    duration or cost that is negative, not finite or out of range is left out."""
    duration, cents = fact[3], fact[5]
    bad_duration = duration is not None and not (
        _finite(duration) and 0 <= duration <= MAX_DURATION_MS)
    bad_cents = cents is not None and not (
        isinstance(cents, int) and not isinstance(cents, bool) and cost_in_range(cents))
    if not (bad_duration or bad_cents):
        return fact
    return (fact[0], fact[1], fact[2], None if bad_duration else duration, fact[4],
            None if bad_cents else cents, fact[6], fact[7], fact[8])
