"""ComplianceConfig -> FormatOptions (kept apart so the API can build options directly)."""

from __future__ import annotations

import os

from .config import ComplianceConfig
from .formats.options import FormatOptions


def format_options(config: ComplianceConfig) -> FormatOptions:
    return FormatOptions(
        vendor=config.vendor,
        product=config.product,
        version=config.version,
        hostname=config.hostname,
        app_name=config.app_name,
        procid=config.procid or str(os.getpid()),
        sd_id=config.sd_id,
        facility=config.facility_number(),
        syslog_severity=config.severity_numbers(),
        cef_severity=config.cef_severities(),
        leef_delimiter=config.leef.delimiter_char(),
        leef_dev_time_format=config.leef.dev_time_format,
        syslog_bom=config.bom,
    )
