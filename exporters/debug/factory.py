"""Factory of the ``debug`` exporter."""

from __future__ import annotations

from hangar_otelcol.component import CreateSettings, Factory, Kind, Stability

from .config import DebugConfig
from .exporter import DebugExporter


def _create(settings: CreateSettings, config: DebugConfig) -> DebugExporter:
    return DebugExporter(settings, config)


FACTORY = Factory(
    type="debug", kind=Kind.EXPORTER, config_class=DebugConfig, create=_create,
    stability={"traces": Stability.BETA, "logs": Stability.BETA, "metrics": Stability.BETA},
    description="Writes what it receives to stderr (basic, normal or detailed)")
