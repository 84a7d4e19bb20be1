"""Factory of the ``batch`` processor."""

from __future__ import annotations

from hangar_otelcol.component import Stability, processor_factory

from .config import BatchConfig
from .processor import BatchProcessor

FACTORY = processor_factory(
    "batch", BatchConfig, BatchProcessor,
    {"traces": Stability.BETA, "logs": Stability.BETA, "metrics": Stability.BETA},
    description="Groups requests into bigger batches by size or time (no protobuf copies)")
