"""The gateway's config as the CLI and the workers supervisor load it: the embedded default
(``defaults/gateway.yaml``) or ``--config`` sources, ``--set`` overrides, validated once."""

from __future__ import annotations

from importlib import resources
from typing import Any

from hangar_otelcol.config import yamlsafe
from hangar_otelcol.config.loader import load
from hangar_otelcol.config.model import GatewayConfig, validate
from hangar_otelcol.config.types import ConfigError
from hangar_otelcol.redact import Redactor, redact_text, secrets_in
from hangar_otelcol.registry import default_registry


def default_config_text() -> str:
    return resources.files("hangar_otelcol.defaults").joinpath("gateway.yaml").read_text("utf-8")


def load_config(sources: list[str], sets: list[str]) -> tuple[dict[str, Any], GatewayConfig]:
    """(the merged, expanded data, the validated config); raises ConfigError with every
    problem, or registry.ComponentLoadError if a component package cannot be imported."""
    base = None
    if not sources:
        base = yamlsafe.load(default_config_text())
    try:
        data = load(sources, sets, base=base)
    except ConfigError as exc:
        raise ConfigError([redact_text(error) for error in exc.errors]) from None
    try:
        return data, validate(data, default_registry())
    except ConfigError as exc:  # a message may quote a value: never a secret of the config
        redactor = Redactor(secrets_in(data))
        raise ConfigError([redactor.text(error) for error in exc.errors]) from None


def error_lines(errors: list[str]) -> list[str]:
    """What ``validate`` and ``run`` print for an invalid config (URL passwords and
    Bearer/Basic credentials redacted, like every config value a message quotes)."""
    head = (f"error: invalid configuration ({len(errors)} problem"
            f"{'s' if len(errors) != 1 else ''}):")
    return [head, *(f"  {redact_text(error)}" for error in errors)]


def escape(data: Any) -> Any:
    """``data`` with every ``$`` doubled, so that loading it again expands nothing: the
    resolved config handed to workers is used exactly as the supervisor resolved it."""
    if isinstance(data, dict):
        return {k: escape(v) for k, v in data.items()}
    if isinstance(data, list):
        return [escape(v) for v in data]
    if isinstance(data, str):
        return data.replace("$", "$$")
    return data
