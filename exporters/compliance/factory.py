"""Factory of the ``compliance`` exporter (traces and logs)."""

from __future__ import annotations

from hangar_otelcol.component import Stability, exporter_factory

from .config import ComplianceConfig
from .exporter import ComplianceExporter

FACTORY = exporter_factory(
    "compliance", ComplianceConfig, ComplianceExporter,
    {"traces": Stability.ALPHA, "logs": Stability.ALPHA},
    description="One SIEM record per tool invocation and MCP server state change: JSON-lines, "
                "LEEF 2.0, RFC 5424 syslog or CEF, to stderr/stdout, files or syslog "
                "(UDP/TCP/TLS)")
