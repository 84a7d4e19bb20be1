"""Factory of the prometheus exporter."""

from __future__ import annotations

from hangar_otelcol.component import Stability, exporter_factory
from hangar_otelcol.exporters.prometheus.config import PrometheusConfig
from hangar_otelcol.exporters.prometheus.exporter import PrometheusExporter

FACTORY = exporter_factory(
    "prometheus", PrometheusConfig, PrometheusExporter,
    {"traces": Stability.BETA, "logs": Stability.BETA, "metrics": Stability.DEVELOPMENT},
    description="mcp_hangar_* tool-call and cost series on a Prometheus /metrics endpoint")
