"""Factory of the prometheusremotewrite exporter."""

from __future__ import annotations

from hangar_otelcol.component import Stability, exporter_factory
from hangar_otelcol.exporters.prometheusremotewrite.config import RemoteWriteConfig
from hangar_otelcol.exporters.prometheusremotewrite.exporter import RemoteWriteExporter

FACTORY = exporter_factory(
    "prometheusremotewrite", RemoteWriteConfig, RemoteWriteExporter,
    {"metrics": Stability.ALPHA},
    description="OTLP metrics (e.g. mcp_metrics' cost and call series) to Prometheus "
                "remote write 1.0: Grafana Cloud, Mimir, Thanos, Cortex, a Prometheus "
                "with its remote-write receiver")
