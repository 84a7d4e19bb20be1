"""Format options shared by the four formatters (built from the exporter config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import MAX_FIELD_BYTES, MAX_LINE_BYTES

# RFC 5424 §6.2.1 severities by name
SYSLOG_SEVERITIES = {
    "emerg": 0, "emergency": 0, "alert": 1, "crit": 2, "critical": 2, "err": 3, "error": 3,
    "warning": 4, "warn": 4, "notice": 5, "info": 6, "informational": 6, "debug": 7,
}
# RFC 5424 §6.2.1 facilities by name
SYSLOG_FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13, "alert": 14,
    "clock": 15, **{f"local{i}": 16 + i for i in range(8)},
}

#: seed / hangar defaults (docs/compliance-formats.md, "Record types")
DEFAULT_SYSLOG_SEVERITY = {"completed": "info", "failed": "err", "state_change": "warning",
                           "denied": "warning", "requested": "info"}
DEFAULT_CEF_SEVERITY = {"completed": 1, "failed": 7, "state_change": 3, "denied": 5,
                        "requested": 1}


@dataclass
class SourceIdentity:
    """Who the records say wrote them (LEEF/CEF headers, syslog HEADER and SD-ID), with the
    seed's values as defaults; the exporter config has the same keys."""

    vendor: str = "MCP Hangar"
    product: str = "MCP Hangar"
    #: header version; empty = the sender's service.version
    version: str = ""
    hostname: str = "mcp-hangar"
    app_name: str = "mcp-hangar"
    #: RFC 5424 PROCID
    procid: str = "-"
    sd_id: str = "mcp@49152"


@dataclass
class FormatOptions(SourceIdentity):
    #: the header version when neither ``version`` nor the sender's service.version is known
    fallback_version: str = "unknown"
    facility: int = 16  # local0
    #: event key (completed, failed, ...) -> RFC 5424 severity number
    syslog_severity: dict[str, int] = field(
        default_factory=lambda: {k: SYSLOG_SEVERITIES[v] for k, v in
                                 DEFAULT_SYSLOG_SEVERITY.items()})
    cef_severity: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CEF_SEVERITY))
    #: LEEF attribute delimiter (one character)
    leef_delimiter: str = "\t"
    #: Java SimpleDateFormat written as devTimeFormat, or "epoch_ms"
    leef_dev_time_format: str = "MMM dd yyyy HH:mm:ss"
    #: RFC 5424 BOM before free-text MSG: "auto" (only when MSG is not ASCII), "always", "never"
    syslog_bom: str = "auto"
    #: cap of one field's value (UTF-8 bytes before escaping, marker included)
    max_field_bytes: int = MAX_FIELD_BYTES
    #: cap of one line (UTF-8 bytes, without its newline)
    max_line_bytes: int = MAX_LINE_BYTES
