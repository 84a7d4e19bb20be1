"""Gateway configs for tests, built as data and written as YAML.

Every config a test starts listens on 127.0.0.1 only, has a health check (the launchers
wait for it) and no self-metrics listener unless asked. Strings may hold the placeholders
``run_gateway`` fills with free ports ({grpc}, {http}, {health}, {metrics}, {prom}).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import REPO

#: the shipped default config (what `hangar-otelcol` runs with no --config)
SHIPPED = REPO / "config" / "gateway.yaml"

OTLP_IN: dict[str, Any] = {"protocols": {"grpc": {"endpoint": "127.0.0.1:{grpc}"},
                                         "http": {"endpoint": "127.0.0.1:{http}"}}}


def otlp_out(port: int | str, **more: Any) -> dict[str, Any]:
    """An ``otlp`` exporter to a plain-text gRPC sink on 127.0.0.1."""
    return {"endpoint": f"127.0.0.1:{port}", "tls": {"insecure": True}, **more}


#: an overlay's ``service`` section that turns the gateway's self-metrics on, on {metrics}
SELF_METRICS: dict[str, Any] = {"telemetry": {"metrics": {"level": "normal",
                                                          "address": "127.0.0.1:{metrics}"}}}


def gateway(pipelines: dict[str, Any], *, receivers: dict[str, Any] | None = None,
            processors: dict[str, Any] | None = None,
            exporters: dict[str, Any] | None = None,
            connectors: dict[str, Any] | None = None,
            extensions: dict[str, Any] | None = None, metrics: str | None = None) -> str:
    """A whole config: the given components, a health check on {health}, and self-metrics
    on ``metrics`` (an address) or off."""
    config: dict[str, Any] = {
        "extensions": {"health_check": {"endpoint": "127.0.0.1:{health}"},
                       **(extensions or {})},
        "receivers": receivers or {"otlp": OTLP_IN},
    }
    for key, section in (("processors", processors), ("exporters", exporters),
                         ("connectors", connectors)):
        if section:
            config[key] = section
    telemetry = {"metrics": {"address": metrics}} if metrics else {"metrics": {"level": "none"}}
    config["service"] = {"extensions": list(config["extensions"]), "telemetry": telemetry,
                         "pipelines": pipelines}
    return dump(config)


def shipped_overlay(**sections: Any) -> str:
    """An overlay for the shipped config (``--config config/gateway.yaml --config
    overlay.yaml``): its listeners moved to the placeholders, plus ``sections``."""
    overlay: dict[str, Any] = {
        "extensions": {"health_check": {"endpoint": "127.0.0.1:{health}"}},
        "receivers": {"otlp": OTLP_IN},
        "exporters": {"prometheus": {"endpoint": "127.0.0.1:{prom}"}},
        "service": {"telemetry": {"metrics": {"level": "none"}}},
    }
    for key, value in sections.items():
        overlay[key] = _merge(overlay.get(key), value)
    return dump(overlay)


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def write(path: Path, text: str, **ports: Any) -> Path:
    """``text`` with ``{name}`` placeholders replaced by ``ports`` values, written to path."""
    for key, value in ports.items():
        text = text.replace("{" + key + "}", str(value))
    path.write_text(text)
    return path


def _merge(base: Any, overlay: Any) -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = _merge(base.get(key), value)
        return out
    return overlay
