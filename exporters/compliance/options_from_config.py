"""ComplianceConfig -> FormatOptions (kept apart so the API can build options directly)."""

from __future__ import annotations

import dataclasses
import os

from .config import ComplianceConfig
from .formats.options import FormatOptions, SourceIdentity


def format_options(config: ComplianceConfig) -> FormatOptions:
    identity = {f.name: getattr(config, f.name) for f in dataclasses.fields(SourceIdentity)}
    identity["procid"] = config.procid or str(os.getpid())
    return FormatOptions(
        **identity,
        facility=config.facility_number(),
        syslog_severity=config.severity_numbers(),
        cef_severity=config.cef_severities(),
        leef_delimiter=config.leef.delimiter_char(),
        leef_dev_time_format=config.leef.dev_time_format,
        syslog_bom=config.bom,
        max_field_bytes=int(config.max_field_size),
        max_line_bytes=line_cap(config),
    )


#: the most a UDP line may have, so that the RFC 5424 envelope (header up to ~480 bytes)
#: and the line still fit one datagram (65,507 bytes)
UDP_LINE_CAP = 65_000


def line_cap(config: ComplianceConfig) -> int:
    cap = int(config.max_line_size)
    return min(cap, UDP_LINE_CAP) if config.output_kind()[0] == "udp" else cap
