"""Factory of the mcp_cost processor."""

from __future__ import annotations

from hangar_otelcol.component import Stability, processor_factory
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.processor import create

FACTORY = processor_factory(
    "mcp_cost", CostConfig, create, {"traces": Stability.BETA, "logs": Stability.BETA},
    description="Prices MCP tool invocations (mcp.cost.*) with hangar's pricing rules")
