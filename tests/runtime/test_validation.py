from __future__ import annotations

import pytest
import yaml

from hangar_otelcol.component import ComponentID
from hangar_otelcol.config.model import validate
from hangar_otelcol.config.types import ConfigError
from tests.runtime import fakes


def check(text: str) -> list[str]:
    try:
        validate(yaml.safe_load(text), fakes.registry())
    except ConfigError as exc:
        return exc.errors
    return []


def test_five_mistakes_give_five_path_qualified_errors() -> None:
    errors = check("""
receivers:
  src: {fail_start: 5}
  nosuch: {}
exporters:
  sink: {colour: red}
service:
  pipelines:
    traces: {receivers: [src], exporters: [sink, missing]}
    logs: {receivers: [src], exporters: []}
""")
    assert errors == [
        "receivers.src.fail_start: expected true or false, got 5",
        "receivers.nosuch: unknown receiver type 'nosuch' (known: src)",
        "exporters.sink.colour: unknown key (known keys: endpoint, fail_start, tag)",
        "service.pipelines.traces.exporters[1]: 'missing' is not defined in exporters or "
        "connectors",
        "service.pipelines.logs.exporters: a pipeline needs at least one exporter",
    ]


def test_wrong_types_name_their_path() -> None:
    errors = check("""
receivers: {src: {fail_start: maybe}}
exporters: {sink: {}}
service:
  shutdown_timeout: soon
  pipelines: {traces: {receivers: [src], exporters: [sink]}}
""")
    assert "receivers.src.fail_start: expected true or false, got 'maybe'" in errors
    assert any(e.startswith("service.shutdown_timeout: invalid duration 'soon'") for e in errors)


def test_signal_support_unknown_top_level_and_extensions() -> None:
    errors = check("""
recievers: {}
receivers: {src: {}}
exporters: {tracesonly: {}}
extensions: {ext: {}}
service:
  extensions: [ext, zpages]
  pipelines:
    logs: {receivers: [src], exporters: [tracesonly]}
""")
    assert any(e.startswith("recievers: unknown top-level key") for e in errors)
    assert "service.pipelines.logs.exporters[0]: exporter 'tracesonly' does not support logs" \
        in errors
    assert "service.extensions[1]: extension 'zpages' is not defined in extensions" in errors


def test_aliases_resolve_to_canonical_ids() -> None:
    cfg = validate(yaml.safe_load("""
receivers: {src: {}}
exporters: {sink_alias/x: {tag: a}}
service: {pipelines: {traces: {receivers: [src], exporters: [sink_alias/x]}}}
"""), fakes.registry())
    assert cfg.pipelines["traces"].exporters == [ComponentID("sink", "x")]
    assert cfg.exporters[ComponentID("sink", "x")].config.tag == "a"


#: a config with a connector, to which each case adds its pipelines
_CONNECTED = """
receivers: {src: {}}
exporters: {sink: {}}
connectors: {bridge: {}}
service:
  pipelines:
"""


@pytest.mark.parametrize(("pipelines", "error"), [
    ("    traces: {receivers: [src], exporters: [bridge]}\n",
     "connectors.bridge: used only on one side: a connector must also be a receiver in some "
     "pipeline"),
    ("    logs: {receivers: [src], exporters: [bridge]}\n"
     "    traces: {receivers: [bridge], exporters: [sink]}\n",
     "connectors.bridge: does not connect logs->traces"),
])
def test_connector_must_be_used_on_both_sides_with_a_supported_pair(pipelines: str,
                                                                    error: str) -> None:
    assert check(_CONNECTED + pipelines) == [error]


@pytest.mark.parametrize("pipelines", ["{}", "null"])
def test_no_pipelines_is_an_error(pipelines: str) -> None:
    errors = check(f"receivers: {{src: {{}}}}\nservice: {{pipelines: {pipelines}}}\n")
    assert errors == ["service.pipelines: at least one pipeline is required"]


def test_self_metrics_address_is_checked_at_validation() -> None:
    """`validate` used to accept it and `run` then failed with a traceback."""
    errors = check("""
receivers: {src: {}}
exporters: {sink: {}}
service:
  telemetry: {metrics: {address: "bogus"}}
  pipelines: {traces: {receivers: [src], exporters: [sink]}}
""")
    assert errors == ["service.telemetry.metrics.address: expected host:port, got 'bogus'"]
