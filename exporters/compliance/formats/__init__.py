"""Record -> line formatters, one module per format (pure functions of the record)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Formatter
    from .options import FormatOptions

#: accepted spellings -> canonical name (hangar accepts json-lines too)
FORMAT_ALIASES = {"jsonlines": "jsonlines", "json-lines": "jsonlines", "leef": "leef",
                  "syslog": "syslog", "cef": "cef"}


def canonical_format(name: str) -> str | None:
    """The canonical format name for a user's spelling, or None if unknown."""
    return FORMAT_ALIASES.get(name.strip().lower())


def unknown_format_message(name: str) -> str:
    return (f"unknown format {name!r} (expected jsonlines, json-lines, leef, syslog or cef)")


def formatter_for(name: str, options: FormatOptions | None) -> Formatter:
    """A formatter instance for a canonical or alias format name."""
    from .cef import CefFormatter
    from .jsonlines import JsonLinesFormatter
    from .leef import LeefFormatter
    from .syslog import SyslogFormatter

    classes: dict[str, type[Formatter]] = {"jsonlines": JsonLinesFormatter,
                                           "leef": LeefFormatter, "syslog": SyslogFormatter,
                                           "cef": CefFormatter}
    canonical = canonical_format(name)
    if canonical is None:
        raise ValueError(unknown_format_message(name))
    return classes[canonical](options)
