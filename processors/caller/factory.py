"""Factory of the mcp_caller processor."""

from __future__ import annotations

from hangar_otelcol.component import Stability, processor_factory
from hangar_otelcol.processors.caller.config import CallerConfig
from hangar_otelcol.processors.caller.processor import create

FACTORY = processor_factory(
    "mcp_caller", CallerConfig, create, {"traces": Stability.BETA, "logs": Stability.BETA},
    description="Attaches caller identity (mcp.caller.*) to MCP tool invocations")
