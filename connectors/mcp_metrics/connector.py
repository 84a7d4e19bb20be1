"""The mcp_metrics connector: the mcp_hangar_* series as OTLP metrics, pushed.

It is an exporter of logs (or traces) pipelines that counts every call exactly once, the
prometheus exporter's way (``exporters/prometheus/counting.py``: record ids, the ledger
with ``count_spans``, the queue and the saved counters), and the receiver of a metrics
pipeline: every ``interval`` (and at shutdown) the series go there as one
ExportMetricsServiceRequest, for an OTLP exporter (Grafana Cloud, Datadog, another
Collector) or ``prometheusremotewrite``.

Temporality: cumulative points all start at the connector's first start, saved with the
counters, so a restart continues the same series; delta points cover the time since the
previous hand-over, whose values are saved with the counters too. A hand-over the metrics
pipeline refuses is tried again at the next interval (cumulative: the newer totals; delta:
the changes since the last accepted one). Known limit (docs/metrics-push.md): with delta,
a crash between a hand-over and the next checkpoint (1 s) can hand one interval over twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import orjson

from hangar_otelcol.component import Consumer, ConsumerError, CreateSettings, Host
from hangar_otelcol.connectors.mcp_metrics.config import McpMetricsConfig
from hangar_otelcol.connectors.mcp_metrics.otlp import Baseline, build, forget, series_keys
from hangar_otelcol.exporters.prometheus.counting import CallCounter
from hangar_otelcol.multiprocess import worker_index
from hangar_otelcol.pdata import Batch, Sender, Signal
from hangar_otelcol.tasks import cancel_and_wait

#: state keys: when the cumulative series started; what was handed on last (delta)
START = "metrics.start"
BASELINE = "metrics.baseline"
_INTERNAL = Sender(transport="internal")


class McpMetricsConnector(CallCounter):
    def __init__(self, settings: CreateSettings, config: McpMetricsConfig,
                 consumer: Consumer) -> None:
        super().__init__(settings, config)
        self.config = config
        self.consumer = consumer
        self.delta = config.aggregation_temporality == "delta"
        self.start_ns = time.time_ns()
        self._since_ns = self.start_ns
        self._baseline: Baseline = {}
        self._handed: Baseline | None = None  # the baseline after the last hand-over
        self._task: asyncio.Task[None] | None = None
        self.resource = {"service.name": "hangar-otelcol",
                         "service.instance.id": f"{socket.gethostname()}-w{worker_index()}",
                         **config.resource_attributes}
        self._points = self.telemetry.counter(
            "otelcol_connector_mcp_metrics_points_total",
            "Metric points handed to the metrics pipeline, by outcome (sent; refused: "
            "tried again at the next interval)", ("outcome",))

    def consumer_for(self, signal: Signal) -> Consumer:
        return self

    async def open(self, host: Host) -> None:
        await super().open(host)
        self._task = asyncio.create_task(self._every(), name=f"{self.settings.id}-push")

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await super().close()
        await self.push()  # the last counts (the queue is drained by now)

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(float(self.config.interval))
            await self.push()

    def expire(self) -> None:
        before = series_keys(self.metrics.frozen()) if self.delta else {}
        super().expire()
        if self.delta:
            forget(self._baseline, before, series_keys(self.metrics.frozen()))

    async def push(self) -> bool:
        """Hand the series over now; False if the metrics pipeline refused them."""
        now = time.time_ns()
        request, fresh, points = build(self.metrics.frozen(), self.resource, self.start_ns,
                                       now, delta=self.delta, baseline=self._baseline,
                                       since_ns=self._since_ns)
        if points == 0:
            return True
        try:
            await self.consumer.consume(Batch.of(Signal.METRICS, request, _INTERNAL))
        except ConsumerError as exc:
            self._points.inc("refused", amount=points)
            self.problems.warn("refused", "%s: %d metric points refused (%s); the next "
                               "interval sends them again", self.settings.id, points, exc,
                               detail=str(exc))
            return False
        except Exception as exc:  # a broken consumer must not stop the pushes
            self._points.inc("refused", amount=points)
            self.problems.error("bug", "%s: handing metrics on failed: %r", self.settings.id,
                                exc, detail=type(exc).__name__)
            return False
        self._points.inc("sent", amount=points)
        if self.delta:
            self._baseline, self._since_ns = fresh, now
            self._handed = fresh
            with contextlib.suppress(Exception):  # saved now: a crash repeats less
                await self.checkpoint()
        return True

    async def restore_state(self, state: dict[str, bytes]) -> None:
        await super().restore_state(state)
        if START in state:
            self.start_ns = int(state[START])
        if BASELINE in state:
            raw = orjson.loads(state[BASELINE])
            self._since_ns = int(raw["since"])
            self._baseline = {name: {tuple(row[0]): row[1] for row in rows}
                              for name, rows in raw["series"].items()}

    def checkpoint_state(self) -> dict[str, bytes | None]:
        out = super().checkpoint_state()
        out[START] = str(self.start_ns).encode()
        if self._handed is not None:
            out[BASELINE] = orjson.dumps({
                "since": self._since_ns,
                "series": {name: [[list(key), value] for key, value in series.items()]
                           for name, series in self._handed.items()}})
            self._handed = None
        return out


