"""The gateway's log formatters: a traceback the caller asked for is printed at any level."""

from __future__ import annotations

import logging
import sys

import orjson

from hangar_otelcol.logs import ConsoleFormatter, JsonFormatter


def _warning_with_traceback() -> logging.LogRecord:
    try:
        raise KeyError("boom")
    except KeyError:
        exc_info = sys.exc_info()
    return logging.LogRecord("hangar_otelcol.exporter.otlp", logging.WARNING, __file__, 1,
                             "%s: unexpected error in send", ("otlp",), exc_info)


def test_console_prints_the_traceback_of_a_warning() -> None:
    text = ConsoleFormatter().format(_warning_with_traceback())
    assert "otlp: unexpected error in send" in text
    assert "Traceback" in text and "KeyError: 'boom'" in text


def test_json_carries_the_traceback_of_a_warning() -> None:
    entry = orjson.loads(JsonFormatter().format(_warning_with_traceback()))
    assert entry["level"] == "warning"
    assert "KeyError: 'boom'" in entry["error"]
