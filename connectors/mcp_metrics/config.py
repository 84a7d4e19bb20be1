"""Config of the mcp_metrics connector (logs or traces in, metrics out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hangar_otelcol.config.types import Duration
from hangar_otelcol.exporters.prometheus.config import CallCountingConfig


@dataclass
class McpMetricsConfig(CallCountingConfig):
    #: how often the series are handed to the metrics pipeline (and at shutdown)
    interval: Duration = Duration(60.0)
    #: cumulative (Prometheus, Mimir, Grafana Cloud): every point is the total since
    #: ``start``, survives a lost export; delta (Datadog's preference): every point is what
    #: was counted since the previous one, series with nothing new are left out
    aggregation_temporality: Literal["cumulative", "delta"] = "cumulative"
    #: resource attributes of the metrics; ``service.instance.id`` defaults to
    #: ``<host name>-w<worker>`` so that each gateway process has series of its own (sum
    #: them across instances in queries)
    resource_attributes: dict[str, str] = field(default_factory=dict)

    def validate(self) -> list[str]:
        errors = super().validate()
        if self.interval < 0.05:
            errors.append("interval: must be at least 50ms")
        return errors
