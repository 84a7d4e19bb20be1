"""Factory of the mcp_caller processor."""

from __future__ import annotations

from hangar_otelcol.component import Factory, Kind, Stability
from hangar_otelcol.processors.caller.config import CallerConfig
from hangar_otelcol.processors.caller.processor import create

FACTORY = Factory(
    type="mcp_caller",
    kind=Kind.PROCESSOR,
    config_class=CallerConfig,
    create=create,
    stability={"traces": Stability.BETA, "logs": Stability.BETA},
    description="Attaches caller identity (mcp.caller.*) to MCP tool invocations",
)
