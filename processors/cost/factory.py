"""Factory of the mcp_cost processor."""

from __future__ import annotations

from hangar_otelcol.component import Factory, Kind, Stability
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.processor import create

FACTORY = Factory(
    type="mcp_cost",
    kind=Kind.PROCESSOR,
    config_class=CostConfig,
    create=create,
    stability={"traces": Stability.BETA, "logs": Stability.BETA},
    description="Prices MCP tool invocations (mcp.cost.*) with hangar's pricing rules",
)
