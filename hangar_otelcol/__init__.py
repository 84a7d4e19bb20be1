"""hangar-otelcol: an OpenTelemetry-Collector-style gateway for MCP tool-call telemetry."""

__version__ = "0.1.0"
