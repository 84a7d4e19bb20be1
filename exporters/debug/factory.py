"""Factory of the ``debug`` exporter."""

from __future__ import annotations

from hangar_otelcol.component import Stability, exporter_factory

from .config import DebugConfig
from .exporter import DebugExporter

FACTORY = exporter_factory(
    "debug", DebugConfig, DebugExporter,
    {"traces": Stability.BETA, "logs": Stability.BETA, "metrics": Stability.BETA},
    description="Writes what it receives to stderr (basic, normal or detailed)")
