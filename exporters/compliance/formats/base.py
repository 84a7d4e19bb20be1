"""What every formatter is to the compliance exporter and the API (``formatter_for``)."""

from __future__ import annotations

import re
from typing import ClassVar

from ..record import ComplianceRecord
from .common import Limits
from .options import FormatOptions


class Formatter:
    """A format: ``format(record)`` is its line (without the newline) within ``limits``, the
    size caps of every format plus the format's own per-field lengths (``chars``)."""

    name: ClassVar[str]
    #: finds the record ids in written lines (group 1), to tell a repeat after a restart
    RECORD_ID: ClassVar[re.Pattern[bytes]]
    #: an RFC 5424 envelope may put a BOM before the line: only a free-text format may
    #: (a LEEF:/CEF: cookie must start MSG, syslog lines are never wrapped;
    #: docs/compliance-formats.md)
    envelope_bom: ClassVar[bool] = False

    def __init__(self, options: FormatOptions | None = None,
                 chars: dict[str, int] | None = None) -> None:
        o = self.options = options or FormatOptions()
        self.limits = Limits(o.max_field_bytes, o.max_line_bytes, chars)

    def format(self, r: ComplianceRecord) -> str:
        raise NotImplementedError
