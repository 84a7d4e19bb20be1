"""Factory of the mcp_metrics connector (logs or traces in, metrics out)."""

from __future__ import annotations

from hangar_otelcol.component import Stability, connector_factory, feeding
from hangar_otelcol.connectors.mcp_metrics.config import McpMetricsConfig
from hangar_otelcol.connectors.mcp_metrics.connector import McpMetricsConnector
from hangar_otelcol.pdata import Signal

FACTORY = connector_factory(
    "mcp_metrics", McpMetricsConfig, feeding(Signal.METRICS, McpMetricsConnector),
    {Signal.LOGS: Stability.ALPHA, Signal.TRACES: Stability.ALPHA},
    frozenset({(Signal.LOGS, Signal.METRICS), (Signal.TRACES, Signal.METRICS)}),
    description="the mcp_hangar_* tool-call and cost series (each call counted once, as "
                "the prometheus exporter counts) as OTLP metrics every interval, cumulative "
                "or delta, for backends that take pushed metrics")
