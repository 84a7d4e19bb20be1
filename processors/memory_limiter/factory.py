"""Factory of the ``memory_limiter`` processor."""

from __future__ import annotations

from hangar_otelcol.component import Stability, processor_factory
from hangar_otelcol.processors.memory_limiter.config import MemoryLimiterConfig
from hangar_otelcol.processors.memory_limiter.processor import MemoryLimiter

FACTORY = processor_factory(
    "memory_limiter", MemoryLimiterConfig, MemoryLimiter,
    {"traces": Stability.BETA, "logs": Stability.BETA, "metrics": Stability.BETA},
    description="refuses data (retryably, with a retry hint) while the process's memory is "
                "above a soft limit")
