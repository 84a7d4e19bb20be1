"""The command line as an operator uses it (real subprocesses)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hangar_otelcol import __version__
from hangar_otelcol.config.gateway import default_config_text
from tests.support.paths import REPO


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hangar_otelcol", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO)


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"hangar-otelcol {__version__}"


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("""
receivers:
  otlp: {protocols: {grpc: {endpoint: "0.0.0.0:4317"}}, include_metadata: maybe}
exporters:
  otlp/tempo: {tls: {insecure: true}}
  nosuch: {}
processors:
  batch: {timeout: soon}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [otlp/tempo, missing]}
""")
    result = cli("validate", "--config", str(config))
    assert result.returncode == 1
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert result.stderr.startswith("error: invalid configuration (6 problems):")
    # every interface, no authenticator: refused, with the way out
    assert any(line.startswith("receivers.otlp.protocols.grpc.endpoint: 0.0.0.0:4317 accepts "
                               "data from other hosts, and nothing authenticates them")
               and "insecure_no_auth: true" in line for line in lines)
    assert "receivers.otlp.include_metadata: expected true or false, got 'maybe'" in lines
    assert "exporters.otlp/tempo.endpoint: required" in " ".join(lines)
    assert any(line.startswith("exporters.nosuch: unknown exporter type 'nosuch'")
               for line in lines)
    assert any(line.startswith("processors.batch.timeout: invalid duration 'soon'")
               for line in lines)
    assert "service.pipelines.traces.exporters[1]: 'missing' is not defined in exporters or " \
           "connectors" in lines
    assert "Traceback" not in result.stderr


def test_set_fixes_a_config_on_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("""
receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:0"}}}}
exporters: {debug: {}}
service: {pipelines: {logs: {receivers: [otlp], exporters: [debug]}}}
""")
    assert cli("validate", "--config", str(config)).returncode == 0
    broken = cli("validate", "--config", str(config), "--set", "exporters.debug.verbosity=loud")
    assert broken.returncode == 1 and "exporters.debug.verbosity" in broken.stderr


def test_default_config_is_valid_and_shipped_in_config_folder() -> None:
    assert (REPO / "config" / "gateway.yaml").read_text() == default_config_text()
    result = cli("validate")
    assert result.returncode == 0, result.stderr


def test_components_lists_every_kind_with_stability() -> None:
    result = cli("components")
    assert result.returncode == 0
    for expected in ("receivers:", "- type: otlp", "- type: batch", "- type: health_check",
                     "otlp_grpc", "otlphttp"):
        assert expected in result.stdout


def test_unreadable_config_is_one_clear_error(tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "nope.yaml: cannot read config: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


RECIPE_ENV = {"DOWNSTREAM_OTLP_ENDPOINT": "127.0.0.1:4317", "QRADAR_ENDPOINT": "127.0.0.1:6514",
              "SPLUNK_SYSLOG_ENDPOINT": "127.0.0.1:6514", "ARCSIGHT_ENDPOINT": "127.0.0.1:514",
              "HANGAR_OTELCOL_LEDGER_REDIS": "127.0.0.1:6379",
              "PROMETHEUS_REMOTE_WRITE_URL": "http://127.0.0.1:9090/api/v1/write",
              "GRAFANA_CLOUD_OTLP_ENDPOINT": "https://otlp-gateway.example.grafana.net/otlp",
              "GRAFANA_CLOUD_INSTANCE_ID": "123456", "GRAFANA_CLOUD_API_TOKEN": "glc_x" * 8}


def test_every_recipe_validates_on_top_of_the_default_config(tmp_path: Path) -> None:
    import os

    from tests.support.tls import self_signed

    cert, key, _, _ = self_signed(tmp_path)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("- {token: 0123456789abcdef0123, principal: hangar-prod}\n")
    secure = {"HANGAR_OTELCOL_TOKENS": str(tokens), "HANGAR_OTELCOL_TLS_CERT": str(cert),
              "HANGAR_OTELCOL_TLS_KEY": str(key),
              "HANGAR_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    for recipe in sorted((REPO / "config" / "recipes").glob("*.yaml")):
        result = subprocess.run(
            [sys.executable, "-m", "hangar_otelcol", "validate", "--config",
             "config/gateway.yaml", "--config", str(recipe)],
            capture_output=True, text=True, timeout=60, cwd=REPO,
            env={**os.environ, **RECIPE_ENV, **secure,
                 "COMPLIANCE_FILE": str(tmp_path / "c.jsonl")})
        assert result.returncode == 0, f"{recipe.name}: {result.stderr}"


def test_print_config_redacts_secrets_unless_asked(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("""
receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:0"}}}}
exporters:
  otlphttp: {endpoint: "http://127.0.0.1:4318", headers: {x-api-key: "key-0123456789wxyz"}}
service: {pipelines: {logs: {receivers: [otlp], exporters: [otlphttp]}}}
""")
    redacted = cli("print-config", "--config", str(config))
    assert redacted.returncode == 0, redacted.stderr
    assert "key-0123456789wxyz" not in redacted.stdout
    assert "x-api-key: '<redacted: 18 chars, ends ...wxyz>'" in redacted.stdout
    shown = cli("print-config", "--show-secrets", "--config", str(config))
    assert "x-api-key: key-0123456789wxyz" in shown.stdout
    help_text = cli("print-config", "--help").stdout
    assert "--show-secrets" in help_text and "redacted" in help_text


def test_config_before_or_after_the_command_is_the_config_checked(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("receivers: {nope: {}}\n")
    for args in (("--config", str(bad), "validate"), ("validate", "--config", str(bad))):
        result = cli(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert "nope" in result.stderr, args
    good = cli("--config", str(REPO / "config" / "gateway.yaml"), "validate",
               "--set", "processors.batch.timeout=2s")
    assert good.returncode == 0, good.stderr
