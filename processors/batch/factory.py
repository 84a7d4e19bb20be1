"""Factory of the ``batch`` processor."""

from __future__ import annotations

from hangar_otelcol.component import Consumer, CreateSettings, Factory, Kind, Stability
from hangar_otelcol.pdata import Signal

from .config import BatchConfig
from .processor import BatchProcessor


def _create(settings: CreateSettings, config: BatchConfig, signal: Signal,
            next_consumer: Consumer) -> BatchProcessor:
    return BatchProcessor(settings, config, signal, next_consumer)


FACTORY = Factory(
    type="batch", kind=Kind.PROCESSOR, config_class=BatchConfig, create=_create,
    stability={"traces": Stability.BETA, "logs": Stability.BETA, "metrics": Stability.BETA},
    description="Groups requests into bigger batches by size or time (no protobuf copies)")
