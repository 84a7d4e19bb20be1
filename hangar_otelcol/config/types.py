"""Config value types and the typed decoder: YAML data -> config dataclasses.

Every component config is a dataclass with defaults. ``decode`` builds one from
YAML data and returns *every* problem at once, each as ``path.to.key: message``.
A dataclass may define ``validate(self) -> list[str]`` returning messages of the
form ``"sub.key: message"`` (relative to the dataclass); they get the full path.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import reprlib
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Literal, Union

from hangar_otelcol.redact import path_is_secret, redact_all, redact_text


class ConfigError(Exception):
    """One or more config problems, each ``path: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


#: the most characters of a value an error message quotes (``excerpt``)
EXCERPT_CHARS = 80

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxstring = EXCERPT_CHARS
_REPR.maxother = EXCERPT_CHARS
_REPR.maxlong = 40


def excerpt(value: Any, limit: int = EXCERPT_CHARS, *, quote: bool = True) -> str:
    """A bounded quote of a config value for an error message: at most ``limit`` characters
    of it, then ``… (N chars)``; containers are shortened without being walked whole (an
    alias-expanded value must not be printed in full). ``quote=False``: a string as is."""
    if isinstance(value, str):
        head = value if len(value) <= limit else value[:limit]
        text = repr(head) if quote else head
        return text if head is value else f"{text}… ({len(value)} chars)"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() > 200:  # repr() refuses ints over 4300 digits
            return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
        return repr(value)
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr fails must not hide the real problem
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)}+ chars)"


def choice_errors(key: str, value: Any, choices: Sequence[str]) -> list[str]:
    """A ``validate()`` problem of a key that takes one of a few words: ``[key: must be
    one of a, b, c; got 'x']``, or none when ``value`` is one of ``choices``."""
    if value in choices:
        return []
    return [f"{key}: must be one of {', '.join(choices)}; got {value!r}"]


def minimum_errors(key: str, value: float, minimum: int) -> list[str]:
    """A ``validate()`` problem of a count below its lower bound: ``[key: must not be
    negative]`` (bound 0) or ``[key: must be at least N]``, or none."""
    if value >= minimum:
        return []
    return [f"{key}: must not be negative" if minimum == 0 else
            f"{key}: must be at least {minimum}"]


class Duration(float):
    """Seconds; written in YAML as ``5s``, ``200ms``, ``1m30s``, ``1h`` or a number."""

    _UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    _PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")

    @classmethod
    def parse(cls, value: Any) -> Duration:
        if isinstance(value, bool):
            raise ValueError("expected a duration such as 5s or 200ms")
        if isinstance(value, (int, float)):
            if not math.isfinite(value) or value > MAX_DURATION:
                raise ValueError(f"must be a finite duration of at most {MAX_DURATION:g}s, "
                                 f"got {excerpt(value)}")
            if value < 0:
                raise ValueError("must not be negative")
            return cls(value)
        if not isinstance(value, str):
            raise ValueError(f"expected a duration such as 5s or 200ms, got {excerpt(value)}")
        text = value.strip()
        pos, total = 0, 0.0
        for m in cls._PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * cls._UNITS[m.group(2)]
            pos = m.end()
        if not text or pos != len(text):
            raise ValueError(f"invalid duration {excerpt(text)} (expected e.g. 5s, 200ms, "
                             "1m30s)")
        if not math.isfinite(total) or total > MAX_DURATION:
            raise ValueError(f"must be a finite duration of at most {MAX_DURATION:g}s, "
                             f"got {excerpt(text)}")
        return cls(total)


class ByteSize(int):
    """Bytes; written as a number or with a unit: ``512KiB``, ``20MiB``, ``1GB``."""

    _UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2,
              "gb": 1000**3, "gib": 1024**3}

    @classmethod
    def parse(cls, value: Any) -> ByteSize:
        if isinstance(value, bool):
            raise ValueError("expected a size such as 4MiB")
        if isinstance(value, int):
            if value < 0:
                raise ValueError("must not be negative")
            if value > MAX_BYTE_SIZE:
                raise ValueError(f"must be at most {MAX_BYTE_SIZE} bytes, got {excerpt(value)}")
            return cls(value)
        text = value if isinstance(value, str) else ""
        m = re.fullmatch(r"\s*(\d{1,30}(?:\.\d{1,30})?)\s*([a-zA-Z]*)\s*", text)
        if not m or m.group(2).lower() not in cls._UNITS:
            raise ValueError(f"invalid size {excerpt(value)} (expected e.g. 4MiB, 512KiB, "
                             "1048576)")
        size = float(m.group(1)) * cls._UNITS[m.group(2).lower()]
        if size > MAX_BYTE_SIZE:
            raise ValueError(f"must be at most {MAX_BYTE_SIZE} bytes, got {excerpt(value)}")
        return cls(int(size))


#: the largest duration a config may give (about 31.7 years): beyond, a number is a mistake
MAX_DURATION = 1e9
#: the largest size a config may give (1 PiB)
MAX_BYTE_SIZE = 2**50


class ExtensionRef(str):
    """The id of an extension that a component uses (``ledger: call_ledger``).

    Decoded as a string; ``config.model.validate`` checks that a non-empty reference names
    an extension enabled in ``service.extensions`` whose factory provides ``capability``.
    """

    capability: ClassVar[str] = ""


class LedgerRef(ExtensionRef):
    """A count-once ledger extension (``hangar_otelcol.ledger``); empty = the service's
    in-process default."""

    capability = "ledger"


class StorageRef(ExtensionRef):
    """A storage extension (``hangar_otelcol.storage``, e.g. ``file_storage``); empty = none:
    the component keeps its data in memory only."""

    capability = "storage"


class AuthenticatorRef(ExtensionRef):
    """An authenticator extension (``hangar_otelcol.auth``: ``bearertokenauth``, ``oidc``,
    ``basicauth``, ``mtls``) that proves who sent a request."""

    capability = "authenticator"


def extension_refs(value: Any, path: str) -> Iterator[tuple[str, ExtensionRef]]:
    """Every non-empty ExtensionRef inside a decoded config, with its path."""
    if isinstance(value, ExtensionRef):
        if value:
            yield path, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from extension_refs(getattr(value, f.name), join(path, f.name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from extension_refs(item, join(path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from extension_refs(item, join(path, str(key)))


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = hints
    return hints


def decode(tp: Any, raw: Any, path: str, errors: list[str]) -> Any:
    """Decode ``raw`` as type ``tp``; append problems to ``errors``; never raises."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return raw
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if raw is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return decode(non_none[0], raw, path, errors)
        for arg in non_none:  # first type that decodes cleanly wins
            trial: list[str] = []
            value = decode(arg, raw, path, trial)
            if not trial:
                return value
        errors.append(f"{path}: expected {_describe(tp)}, got {_show(raw, path)}")
        return None
    if origin is Literal:
        allowed = typing.get_args(tp)
        if raw not in allowed:
            choices = ", ".join(map(str, allowed))
            errors.append(f"{path}: must be one of {choices}; got {_show(raw, path)}")
        return raw
    if origin in (list, tuple, frozenset, set) or tp is list:
        if raw is None:
            return []
        if not isinstance(raw, list):
            errors.append(f"{path}: expected a list, got {_show(raw, path)}")
            return []
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        return [decode(item_tp, item, join(path, i), errors) for i, item in enumerate(raw)]
    if origin is dict or tp is dict:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            errors.append(f"{path}: expected a mapping, got {_show(raw, path)}")
            return {}
        _, val_tp = typing.get_args(tp) or (Any, Any)
        return {str(k): decode(val_tp, v, join(path, str(k)), errors) for k, v in raw.items()}
    if dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, raw, path, errors)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(raw)
        except ValueError:
            choices = ", ".join(str(m.value) for m in tp)
            errors.append(f"{path}: must be one of {choices}; got {_show(raw, path)}")
            return None
    if tp in (Duration, ByteSize):
        try:
            return tp.parse(raw)
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
            return tp(0)
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        errors.append(f"{path}: expected true or false, got {_show(raw, path)}")
        return False
    if tp is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        errors.append(f"{path}: expected an integer, got {_show(raw, path)}")
        return 0
    if tp is float:
        # config floats are finite: YAML's .inf / .nan, or 1e400 (inf as a float), are errors
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            try:
                value = float(raw)
            except OverflowError:
                value = math.inf
            if math.isfinite(value):
                return value
            errors.append(f"{path}: must be a finite number, got {_show(raw, path)}")
            return 0.0
        errors.append(f"{path}: expected a number, got {_show(raw, path)}")
        return 0.0
    if isinstance(tp, type) and issubclass(tp, ExtensionRef):
        if raw is None:
            return tp("")
        if isinstance(raw, str):
            return tp(raw.strip())
        errors.append(f"{path}: expected an extension id, got {_show(raw, path)}")
        return tp("")
    if tp is str:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return str(raw)  # YAML turns 0123 or 1.0 into numbers; a string was meant
        errors.append(f"{path}: expected a string, got {_show(raw, path)}")
        return ""
    return raw


def _decode_dataclass(cls: Any, raw: Any, path: str, errors: list[str]) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.append(f"{path}: expected a mapping, got {_show(raw, path)}")
        raw = {}
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    aliases: dict[str, str] = getattr(cls, "__config_aliases__", {})
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        name = aliases.get(str(key), str(key))
        if name not in fields:
            known = ", ".join(sorted(fields))
            errors.append(f"{join(path, excerpt(str(key), quote=False))}: unknown key "
                          f"(known keys: {known})")
            continue
        kwargs[name] = decode(hints[name], value, join(path, str(key)), errors)
    for name, f in fields.items():
        if name in kwargs:
            continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            errors.append(f"{join(path, name)}: required")
            kwargs[name] = None
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        for problem in validate() or ():
            errors.append(f"{path}.{problem}" if path else problem)
    return obj


def _describe(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _show(raw: Any, path: str) -> str:
    """``raw`` as an error message quotes it: a bounded excerpt (``excerpt``), never a
    secret (a value under a secret-like key or a ``headers:`` mapping is redacted, and so
    are URL passwords and Bearer/Basic credentials in any value)."""
    if path_is_secret(path):
        raw = redact_all(raw)
    return redact_text(excerpt(raw))


def build(cls: type, raw: Any, path: str = "") -> Any:
    """Decode or raise ConfigError with every problem."""
    errors: list[str] = []
    obj = decode(cls, raw, path, errors)
    if errors:
        raise ConfigError(errors)
    return obj
