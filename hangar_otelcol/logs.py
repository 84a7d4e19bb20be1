"""Structured logs for the gateway itself: console or JSON lines on stderr.

Every line passes through ``RedactingFilter``: URL userinfo passwords, Bearer/Basic
credentials and the secrets of the loaded config (``register_secrets``, from
``redact.secrets_in``) are redacted in the message, its extra fields and its traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson

from hangar_otelcol.redact import Redactor

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR}
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _RESERVED}


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no secret reaches a handler: the formatted message
    (its args folded in), string-valued extra fields and the traceback text."""

    def __init__(self) -> None:
        super().__init__()
        self.redactor = Redactor()

    def register(self, secrets: Iterable[str]) -> None:
        self.redactor = Redactor(self.redactor.secrets | set(secrets))

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor.text
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it
            return True
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        for key, value in _fields(record).items():
            text = value if isinstance(value, str) else str(value)
            if redact(text) != text:
                setattr(record, key, redact(text))
        if record.exc_info:
            record.exc_text = redact(record.exc_text or _PLAIN.formatException(record.exc_info))
        return True


_PLAIN = logging.Formatter()
#: installed on the gateway's log handler by ``setup``
REDACTING_FILTER = RedactingFilter()


def register_secrets(secrets: Iterable[str]) -> None:
    """Redact these strings (the loaded config's secrets) in every log line from now on."""
    REDACTING_FILTER.register(secrets)


def _traceback(formatter: logging.Formatter, record: logging.LogRecord,
               exc_info: Any) -> str:
    if record.exc_text:  # already formatted (and redacted) by RedactingFilter
        return record.exc_text
    return formatter.formatException(exc_info)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_fields(record))
        if record.exc_info:  # the caller asked for the traceback, whatever the level
            entry["error"] = _traceback(self, record, record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{ts}.{int(record.msecs):03d}Z\t{record.levelname.lower()}\t{record.name}\t" \
               f"{record.getMessage()}"
        if extra:
            line += f"\t{extra}"
        if record.exc_info:  # the caller asked for the traceback, whatever the level
            line += "\n" + _traceback(self, record, record.exc_info)
        return line


def setup(level: str = "info", encoding: str = "console") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if encoding == "json" else ConsoleFormatter())
    handler.addFilter(REDACTING_FILTER)
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level, logging.INFO))
    # third-party chatter stays at warning unless we debug
    for noisy in ("aiohttp.access", "grpc", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING if level != "debug" else logging.DEBUG)
