"""The ``debug`` exporter: renders each batch and writes it to stderr in one write.

Built on the exporter helper like every exporter, with the queue, retries and
timeout off (as the Collector's debug exporter): writing is synchronous and
cannot usefully be retried.
"""

from __future__ import annotations

import sys
import time

from hangar_otelcol.component import CreateSettings
from hangar_otelcol.config.types import Duration
from hangar_otelcol.exporterhelper import ExporterHelper, HelperConfig, QueueConfig, RetryConfig
from hangar_otelcol.pdata import Batch, Signal

from . import render
from .config import DebugConfig


class _Sampler:
    """zap-style sampling per signal: the first N per second, then every Mth."""

    def __init__(self, initial: int, thereafter: int) -> None:
        self.initial = initial
        self.thereafter = thereafter
        self._window: dict[Signal, tuple[int, int]] = {}

    def allow(self, signal: Signal, now: float) -> bool:
        second = int(now)
        start, count = self._window.get(signal, (second, 0))
        if start != second:
            start, count = second, 0
        count += 1
        self._window[signal] = (start, count)
        if count <= self.initial:
            return True
        return (count - self.initial) % self.thereafter == 0


class DebugExporter(ExporterHelper):
    def __init__(self, settings: CreateSettings, config: DebugConfig) -> None:
        helper = HelperConfig(timeout=Duration(0), sending_queue=QueueConfig(enabled=False),
                              retry_on_failure=RetryConfig(enabled=False))
        super().__init__(settings, helper)
        self.config = config
        self._sampler = _Sampler(config.sampling_initial, config.sampling_thereafter)
        self._name = str(settings.id)

    async def send(self, batch: Batch) -> None:
        if not self._sampler.allow(batch.signal, time.monotonic()):
            return
        text = render.basic(batch, self._name)
        verbosity = self.config.verbosity
        try:
            if verbosity == "normal":
                text += render.normal(batch)
            elif verbosity == "detailed":
                text += render.detailed(batch)
        except Exception as exc:  # what cannot be rendered is left out, never the batch
            self.telemetry.bad_records("render_failed", batch.item_count)
            self.problems.warn("render", "%s: cannot render a batch in detail (%r); wrote "
                               "the summary line only", self._name, exc,
                               detail=type(exc).__name__)
        if self.config.use_internal_logger:
            self.logger.info("%s", text.rstrip("\n"))
        else:
            sys.stderr.write(text)  # resolved per call: follows redirection (and capsys)
