"""Factory of the tool_audit connector (traces and audit logs in, audit logs out)."""

from __future__ import annotations

from hangar_otelcol.component import Stability, connector_factory, feeding
from hangar_otelcol.connectors.tool_audit.config import ToolAuditConfig
from hangar_otelcol.connectors.tool_audit.connector import ToolAuditConnector
from hangar_otelcol.pdata import Signal

FACTORY = connector_factory(
    "tool_audit", ToolAuditConfig, feeding(Signal.LOGS, ToolAuditConnector),
    {Signal.TRACES: Stability.BETA, Signal.LOGS: Stability.BETA},
    frozenset({(Signal.TRACES, Signal.LOGS), (Signal.LOGS, Signal.LOGS)}),
    description="the count-once point: audit log records pass through (noted in the "
                "ledger); a tool-invocation span that no real audit record reported becomes "
                "an audit record like hangar 2.x's, so span-only senders (hangar 1.6.x) get "
                "compliance records and cost counters")
