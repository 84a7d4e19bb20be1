"""Factory of the hangar_audit_log receiver."""

from __future__ import annotations

from collections.abc import Mapping

from hangar_otelcol.component import (
    Consumer,
    ConsumerError,
    CreateSettings,
    Stability,
    receiver_factory,
)
from hangar_otelcol.pdata import Signal
from hangar_otelcol.receivers.hangar_audit_log.config import HangarAuditLogConfig
from hangar_otelcol.receivers.hangar_audit_log.receiver import HangarAuditLogReceiver


def create(settings: CreateSettings, config: HangarAuditLogConfig,
           consumers: Mapping[Signal, Consumer]) -> HangarAuditLogReceiver:
    consumer = consumers.get(Signal.LOGS)
    if consumer is None:
        raise ConsumerError(f"{settings.id}: the hangar_audit_log receiver only produces logs; "
                            "use it in a logs pipeline", permanent=True)
    return HangarAuditLogReceiver(settings, config, consumer)


FACTORY = receiver_factory(
    "hangar_audit_log", HangarAuditLogConfig, create, {Signal.LOGS: Stability.BETA},
    description="MCP Hangar's structured log lines (a followed file or stdin): each "
                "\"audit_event\" line becomes an OTLP audit log record like hangar 2.x sends "
                "(hangar 1.1.0 writes its audit records only there)")
