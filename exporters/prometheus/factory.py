"""Factory of the prometheus exporter."""

from __future__ import annotations

from hangar_otelcol.component import Factory, Kind, Stability
from hangar_otelcol.exporters.prometheus.config import PrometheusConfig
from hangar_otelcol.exporters.prometheus.exporter import create

FACTORY = Factory(
    type="prometheus",
    kind=Kind.EXPORTER,
    config_class=PrometheusConfig,
    create=create,
    stability={"traces": Stability.BETA, "logs": Stability.BETA,
               "metrics": Stability.DEVELOPMENT},
    description="mcp_hangar_* tool-call and cost series on a Prometheus /metrics endpoint",
)
