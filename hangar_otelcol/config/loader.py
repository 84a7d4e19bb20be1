"""Load config sources, expand ``${...}`` references, merge them and apply ``--set``.

Sources (``--config``, repeatable, merged in order): a file path, ``file:PATH``,
``env:VAR`` (the variable holds YAML) or ``yaml:INLINE``. Expansion follows the
OpenTelemetry Collector: ``${env:VAR}``, ``${env:VAR:-default}``, ``${env:VAR:?why}``
(required: an error naming the key when unset or empty), bare ``${VAR}``,
``${file:PATH}``, ``$$`` for a literal ``$``. A value that is exactly one reference
is parsed as YAML (so ``${env:PORT}`` can be an integer); references inside
longer strings are substituted as text. Maps merge deeply; lists are replaced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import yaml

from hangar_otelcol.config import yamlsafe
from hangar_otelcol.config.types import ConfigError, excerpt

_REF = re.compile(r"\$\$|\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_DEPTH = 10


def read_source(source: str) -> Any:
    """The YAML data of one --config source."""
    if source.startswith("yaml:"):
        text, where = source[len("yaml:"):], "yaml:"
    elif source.startswith("env:"):
        name = source[len("env:"):]
        if name not in os.environ:
            raise ConfigError([f"{source}: environment variable {name} is not set"])
        text, where = os.environ[name], source
    else:
        path = source[len("file:"):] if source.startswith("file:") else source
        try:
            text = yamlsafe.read_text(path)
        except OSError as exc:
            raise ConfigError([f"{path}: cannot read config: {exc.strerror or exc}"]) from None
        except UnicodeDecodeError as exc:
            raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
        except yaml.YAMLError as exc:
            raise ConfigError([yamlsafe.describe(exc, path)]) from None
        where = path
    try:
        data = yamlsafe.load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([yamlsafe.describe(exc, where)]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: the config must be a mapping, got {type(data).__name__}"])
    return data


def expand(value: Any, path: str, errors: list[str], depth: int = 0) -> Any:
    """Resolve ${...} references everywhere in ``value``."""
    if isinstance(value, dict):
        return {k: expand(v, f"{path}.{k}" if path else str(k), errors, depth)
                for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, f"{path}[{i}]", errors, depth) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    if depth > _MAX_DEPTH:
        errors.append(f"{path}: references nested more than {_MAX_DEPTH} deep")
        return value
    whole = _REF.fullmatch(value)
    if whole and whole.group(0) != "$$":
        resolved = _resolve(whole.group(1), path, errors)
        if resolved is None:
            return value
        return expand(_yaml_scalar(resolved), path, errors, depth + 1)

    def substitute(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        resolved = _resolve(m.group(1), path, errors)
        return m.group(0) if resolved is None else resolved

    result = _REF.sub(substitute, value)
    if result != value and "${" in result and not value.count("$$"):
        return expand(result, path, errors, depth + 1)
    return result


def _resolve(ref: str, path: str, errors: list[str]) -> str | None:
    scheme, sep, rest = ref.partition(":")
    if not sep or scheme not in ("env", "file"):
        scheme, rest = "env", ref  # bare ${VAR} defaults to env
    if scheme == "env":
        name, has_default, default = rest.partition(":-")
        required = ""
        if not has_default:  # ${env:VAR:?why}: required, set and not empty (as in sh)
            name, _, required = rest.partition(":?")
            required = required or ("" if name == rest else "required")
        if not _ENV_NAME.match(name):
            errors.append(f"{path}: invalid environment variable name {excerpt(name)} in "
                          f"${{{excerpt(ref, quote=False)}}}")
            return None
        value = os.environ.get(name)
        if required and not value:
            errors.append(f"{path}: environment variable {name} is not set: {required}")
            return None
        if value is None or (value == "" and has_default):
            return default if has_default else ""
        return value
    try:
        return yamlsafe.read_text(rest).rstrip("\n")
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        errors.append(f"{path}: cannot read ${{file:{excerpt(rest, quote=False)}}}: {reason}")
        return None


def _yaml_scalar(text: str) -> Any:
    """Parse an expanded value as YAML the way the Collector does; keep text on failure."""
    if text == "":
        return ""
    try:
        value = yamlsafe.load(text)
    except yaml.YAMLError:
        return text
    # numbers and booleans are typed; collections only when written in flow style
    # ("[a, b]", "{k: v}"): "-" or "a: b" in a variable is meant as text
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, dict)) and text.lstrip()[:1] in ("[", "{"):
        return value
    return text


def merge(base: Any, overlay: Any) -> Any:
    """Deep merge: maps merge key by key, anything else in ``overlay`` replaces ``base``."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return overlay


def apply_set(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one ``--set a.b.c=value`` (the value is YAML; ``::`` also separates keys)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError([f"--set {excerpt(assignment, quote=False)}: expected "
                           "key.path=value"])
    parts = [p for p in re.split(r"::|\.", key.strip())]
    if any(not p for p in parts):
        raise ConfigError([f"--set {excerpt(assignment, quote=False)}: empty key in "
                           f"{excerpt(key)}"])
    try:
        value = yamlsafe.load(raw) if raw.strip() else ""
    except yamlsafe.YamlLimitError as exc:
        raise ConfigError([yamlsafe.describe(exc, f"--set {excerpt(key, quote=False)}")]
                          ) from None
    except yaml.YAMLError:
        value = raw
    overlay: Any = value
    for part in reversed(parts):
        overlay = {part: overlay}
    return merge(data, overlay)


def load(sources: list[str], sets: list[str] | None = None,
         base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read, merge, apply --set and expand. Raises ConfigError with every problem."""
    data: dict[str, Any] = dict(base or {})
    errors: list[str] = []
    for source in sources:
        try:
            data = merge(data, read_source(source))
        except ConfigError as exc:
            errors.extend(exc.errors)
    for assignment in sets or ():
        try:
            data = apply_set(data, assignment)
        except ConfigError as exc:
            errors.extend(exc.errors)
    expanded = expand(data, "", errors)
    if errors:
        raise ConfigError(errors)
    return expanded
