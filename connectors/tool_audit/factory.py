"""Factory of the tool_audit connector (traces -> logs)."""

from __future__ import annotations

from typing import Any

from hangar_otelcol.component import ConsumerError, CreateSettings, Factory, Kind, Stability
from hangar_otelcol.connectors.tool_audit.config import ToolAuditConfig
from hangar_otelcol.connectors.tool_audit.connector import ToolAuditConnector
from hangar_otelcol.pdata import Signal


def create(settings: CreateSettings, config: ToolAuditConfig,
           consumers: dict[Signal, Any]) -> ToolAuditConnector:
    consumer = consumers.get(Signal.LOGS)
    if consumer is None:
        raise ConsumerError(f"{settings.id}: the tool_audit connector produces logs; use it "
                            "as a receiver of a logs pipeline", permanent=True)
    return ToolAuditConnector(settings, config, consumer)


FACTORY = Factory(
    type="tool_audit",
    kind=Kind.CONNECTOR,
    config_class=ToolAuditConfig,
    create=create,
    stability={Signal.TRACES.value: Stability.BETA, Signal.LOGS.value: Stability.BETA},
    connects=frozenset({(Signal.TRACES, Signal.LOGS)}),
    description="an audit log record (like hangar 2.x's) for each tool-invocation span that "
                "no real audit record reported, so span-only senders (hangar 1.6.x) get "
                "compliance records and cost counters",
)
