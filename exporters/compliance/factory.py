"""Factory of the ``compliance`` exporter (traces and logs)."""

from __future__ import annotations

from hangar_otelcol.component import CreateSettings, Factory, Kind, Stability

from .config import ComplianceConfig
from .exporter import ComplianceExporter


def create(settings: CreateSettings, config: ComplianceConfig) -> ComplianceExporter:
    return ComplianceExporter(settings, config)


FACTORY = Factory(
    type="compliance",
    kind=Kind.EXPORTER,
    config_class=ComplianceConfig,
    create=create,
    stability={"traces": Stability.ALPHA, "logs": Stability.ALPHA},
    description="One SIEM record per tool invocation and MCP server state change: JSON-lines, "
                "LEEF 2.0, RFC 5424 syslog or CEF, to stderr/stdout, files or syslog "
                "(UDP/TCP/TLS)",
)
