"""Factory of the hangar_audit_log receiver."""

from __future__ import annotations

from hangar_otelcol.component import Stability, feeding, receiver_factory
from hangar_otelcol.pdata import Signal
from hangar_otelcol.receivers.hangar_audit_log.config import HangarAuditLogConfig
from hangar_otelcol.receivers.hangar_audit_log.receiver import HangarAuditLogReceiver

FACTORY = receiver_factory(
    "hangar_audit_log", HangarAuditLogConfig, feeding(Signal.LOGS, HangarAuditLogReceiver),
    {Signal.LOGS: Stability.BETA},
    description="MCP Hangar's structured log lines (a followed file or stdin): each "
                "\"audit_event\" line becomes an OTLP audit log record like hangar 2.x sends "
                "(hangar 1.1.0 writes its audit records only there)")
