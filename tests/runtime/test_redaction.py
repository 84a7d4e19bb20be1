"""No secret in what the gateway prints: print-config, validate, its logs, the debug exporter.

The CLI runs as a real subprocess with secrets written in the config, read from the
environment (${env:...}) and from a file (${file:...}); a real gateway exports to a URL
with a password in it and logs its failures.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from hangar_otelcol import logs
from hangar_otelcol.config.gateway import load_config
from hangar_otelcol.config.types import ConfigError
from hangar_otelcol.redact import (
    HEADER_NAME_KEYS,
    is_secret_key,
    path_is_secret,
    redact_config,
    redact_text,
    redact_value,
    secrets_in,
)
from hangar_otelcol.testing import free_port
from tests.support.configs import gateway
from tests.support.gateway import run_gateway
from tests.support.paths import REPO

LITERAL = "Bearer sk-live-0123456789abcdef"
ENV_SECRET = "env-api-key-ABCDEFGH4321"
FILE_SECRET = "file-token-zyxwvutsrq9876"
URL_PASSWORD = "hunter2-PASSWORD-xyz"
SECRETS = (LITERAL, "sk-live-0123456789abcdef", ENV_SECRET, FILE_SECRET, URL_PASSWORD)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hangar_otelcol", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env={**os.environ, **(env or {})})


# --------------------------------------------------------------------------- the lists

@pytest.mark.parametrize("key", [
    "password", "Password", "PASSWD", "db_password", "db-password", "passphrase", "secret",
    "client_secret", "client-secret", "secret_key", "token", "Token", "access_token",
    "github_token", "api_key", "api-key", "API_KEY", "apikey", "ApiKey", "x-api-key",
    "X-API-Key", "authorization", "Authorization", "proxy-authorization", "bearer",
    "bearer_token", "private_key", "key_pem", "tls_key_pem", "credential", "credentials",
    "cookie", "Set-Cookie", "http.request.header.authorization",
    "http.request.header.x-api-key", "rpc.grpc.request.metadata.cookie", "db.password",
])
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "key_file", "cert_file", "ca_file", "client_ca_file", "public_key_file", "secret_env",
    "secret_file", "password_file", "token_file", "tokens", "tokens_claim", "username_claim",
    "max_tokens", "input_tokens", "output_tokens", "prompt_tokens", "completion_tokens",
    "gen_ai.usage.input_tokens", "mcp.cost.input_tokens", "mcp.cost.output_tokens",
    "mcp.cost.cents", "token_budget", "header", "headers", "auth", "authenticator",
    "endpoint", "key", "username", "user_id", "principal", "jwks_url", "issuer",
])
def test_harmless_keys_are_not_secrets(key: str) -> None:
    assert not is_secret_key(key)


def test_redacted_format_keeps_length_and_a_tail_for_long_values() -> None:
    assert redact_value("sk-live-0123456789abcdef") == "<redacted: 24 chars, ends ...cdef>"
    assert redact_value("12345678901") == "<redacted: 11 chars>"  # short: no tail
    assert redact_value("123456789012") == "<redacted: 12 chars, ends ...9012>"
    assert redact_value(12345678) == "<redacted: 8 chars>"
    # two secrets stay distinguishable
    assert redact_value("a" * 20 + "wxyz") != redact_value("a" * 20 + "abcd")
    assert redact_value("short1") != redact_value("longer12")


# --------------------------------------------------------------------------- redact_config

def test_htpasswd_inline_hashes_are_redacted_its_file_path_is_not() -> None:
    hashed = "$2y$10$abcdefghijklmnopqrstuv0123456789ABCDEFGHIJKLMNOPQRSTU"
    tree = {"extensions": {"basicauth": {"htpasswd": {"inline": f"alice:{hashed}",
                                                      "file": "/etc/hangar/htpasswd"}}}}
    shown = redact_config(tree)["extensions"]["basicauth"]["htpasswd"]
    assert hashed not in str(shown) and shown["inline"].startswith("<redacted")
    assert shown["file"] == "/etc/hangar/htpasswd"
    assert path_is_secret("extensions.basicauth.htpasswd.inline")
    assert not path_is_secret("extensions.basicauth.htpasswd.file")
    assert not path_is_secret("processors.x.inline")


def test_redact_config_edge_cases() -> None:
    tree: dict[str, Any] = {
        "extensions": {"bearertokenauth": {"tokens": [
            {"token": "first-token-aaaa1111", "principal": "ci-bot", "roles": ["sender"]},
            {"token": "second-token-bbbb2222", "principal": "agent"}]}},
        "exporters": {
            "otlphttp": {"endpoint": "https://user:pa55word@otel.example.com:4318/v1",
                         "headers": {"X-Honeycomb-Team": "hc-key-12345678", "x-n": 42,
                                     "cookie": ["a=1", "b=2"]},
                         "tls": {"key_file": "/etc/k.pem", "cert_file": "/etc/c.pem",
                                 "insecure": False}},
            "otlp": {"endpoint": "otel:4317", "headers": {}},
        },
        "processors": {
            "mcp_cost": {"rules": [{"model": "token", "max_tokens": 4096,
                                    "input_tokens": 10, "token_budget": 100}]},
            "mcp_caller": {"jwt": {"secret_env": "JWT_SECRET", "header": "authorization",
                                   "claims": {"id": ["sub"]}},
                           "headers": {"trusted_senders": ["10.0.0.0/8"],
                                       "user_id": "x-user-id", "roles": "x-caller-roles"}},
        },
        "notes": ["see Basic dXNlcjpwYXNz and Bearer abc.DEF-123_xyz", "Basic authentication",
                  "basic verbosity", "Bearer tokens", "http://nobody@host/x"],
        "password": None,
        "bearertokenauth/list": {"tokens": ["list-token-3333dddd", {"token": "t0ken"}],
                                 "filename": "/etc/tokens"},
        "counts": {"tokens": 1200, "mcp.cost.tokens": [3, 4]},
        "secret": {"nested": [{"deep": "n3sted-secret"}], "flag": True},
    }
    original = json.loads(json.dumps(tree))
    out = redact_config(tree)
    assert tree == original  # a copy: the loaded config is not changed

    tokens = out["extensions"]["bearertokenauth"]["tokens"]
    assert tokens[0] == {"token": "<redacted: 20 chars, ends ...1111>", "principal": "ci-bot",
                         "roles": ["sender"]}
    assert tokens[1]["token"] == "<redacted: 21 chars, ends ...2222>"
    http = out["exporters"]["otlphttp"]
    assert http["endpoint"] == "https://user:<redacted: 8 chars>@otel.example.com:4318/v1"
    assert http["headers"] == {"X-Honeycomb-Team": "<redacted: 15 chars, ends ...5678>",
                               "x-n": "<redacted: 2 chars>",
                               "cookie": ["<redacted: 3 chars>", "<redacted: 3 chars>"]}
    assert http["tls"] == original["exporters"]["otlphttp"]["tls"]  # paths are no secrets
    assert out["exporters"]["otlp"] == original["exporters"]["otlp"]
    assert out["processors"] == original["processors"]  # token counts, header names, env names
    assert out["notes"] == ["see Basic <redacted: 12 chars, ends ...YXNz> and Bearer "
                            "<redacted: 15 chars, ends ..._xyz>", "Basic authentication",
                            "basic verbosity", "Bearer tokens", "http://nobody@host/x"]
    assert out["password"] is None
    assert out["bearertokenauth/list"] == {
        "tokens": ["<redacted: 19 chars, ends ...dddd>", {"token": "<redacted: 5 chars>"}],
        "filename": "/etc/tokens"}
    assert out["counts"] == original["counts"]
    assert out["secret"] == {"nested": [{"deep": "<redacted: 13 chars, ends ...cret>"}],
                             "flag": True}
    assert redact_config(out) == out  # redacting twice changes nothing

    found = secrets_in(tree)
    assert {"first-token-aaaa1111", "second-token-bbbb2222", "pa55word", "hc-key-12345678",
            "dXNlcjpwYXNz", "abc.DEF-123_xyz", "n3sted-secret", "list-token-3333dddd",
            "t0ken"} <= found
    assert "x-user-id" not in found and "JWT_SECRET" not in found
    assert all(len(s) >= 4 for s in found)  # "42", "a=1" would redact half of every log


def test_mcp_caller_header_names_match_its_config() -> None:
    from hangar_otelcol.processors.caller.config import HeadersConfig

    assert {f.name for f in dataclasses.fields(HeadersConfig)} == HEADER_NAME_KEYS


def test_redact_text_replaces_known_secrets_urls_and_credentials() -> None:
    secrets = {"sk-live-0123456789abcdef", "abc"}  # under 4 characters: ignored
    text = ("sending with sk-live-0123456789abcdef to http://user:PASSWORD@127.0.0.1:4318/v1 "
            "(authorization: Bearer eyJhbGciOi.x-y_z, abc)")
    assert redact_text(text, secrets) == (
        "sending with <redacted: 24 chars, ends ...cdef> to "
        "http://user:<redacted: 8 chars>@127.0.0.1:4318/v1 "
        "(authorization: Bearer <redacted: 16 chars, ends ...-y_z>, abc)")
    assert redact_text("no secret here: exporter otlp/a, basic verbosity") == \
        "no secret here: exporter otlp/a, basic verbosity"


# --------------------------------------------------------------------------- print-config

CONFIG = f"""
receivers: {{otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:0"}}}}}}}}
exporters:
  otlphttp:
    endpoint: http://gateway:{URL_PASSWORD}@127.0.0.1:4318
    headers:
      Authorization: "{LITERAL}"
      x-api-key: ${{env:REDACT_TEST_KEY}}
  otlphttp/file:
    endpoint: http://127.0.0.1:4318
    headers:
      x-token: ${{file:{{token_file}}}}
  debug: {{}}
processors:
  mcp_cost: {{}}
  batch: {{timeout: 2s}}
service:
  pipelines:
    logs: {{receivers: [otlp], processors: [batch], exporters: [otlphttp, otlphttp/file, debug]}}
"""


def _config(tmp_path: Path, text: str = CONFIG) -> tuple[Path, dict[str, str]]:
    token_file = tmp_path / "token"
    token_file.write_text(FILE_SECRET + "\n")
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("{token_file}", str(token_file)))
    return path, {"REDACT_TEST_KEY": ENV_SECRET}


def _no_secret_in(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} shown in:\n{text}"


def test_print_config_redacts_literal_env_and_file_secrets(tmp_path: Path) -> None:
    path, env = _config(tmp_path)
    result = cli("print-config", "--config", str(path), env=env)
    assert result.returncode == 0, result.stderr
    _no_secret_in(result.stdout, result.stderr)
    out = result.stdout
    assert "Authorization: '<redacted: 31 chars, ends ...cdef>'" in out
    assert "x-api-key: '<redacted: 24 chars, ends ...4321>'" in out
    assert "x-token: '<redacted: 25 chars, ends ...9876>'" in out
    assert "endpoint: 'http://gateway:<redacted: 20 chars, ends ...-xyz>@127.0.0.1:4318'" in out
    assert "timeout: 2s" in out  # everything else as it was


def test_print_config_show_secrets_prints_them(tmp_path: Path) -> None:
    path, env = _config(tmp_path)
    result = cli("print-config", "--show-secrets", "--config", str(path), env=env)
    assert result.returncode == 0, result.stderr
    for secret in SECRETS:
        assert secret in result.stdout
    assert "<redacted" not in result.stdout
    assert "--show-secrets" in cli("print-config", "--help").stdout


def test_validate_never_echoes_a_secret(tmp_path: Path) -> None:
    # the secret where a value of another type is expected, as a header that must be a
    # string, as an endpoint, in a list where a mapping belongs, and in a URL
    bad = f"""
receivers: {{otlp: {{protocols: {{http: {{endpoint: "127.0.0.1:0"}}}}}}}}
exporters:
  otlphttp:
    endpoint: "{LITERAL}"
    headers: {{Authorization: {{value: "{LITERAL}"}}}}
    tls: {{insecure: "{LITERAL}"}}
  otlphttp/2:
    endpoint: "ftp://user:{URL_PASSWORD}@host"
    headers: ["Authorization: {LITERAL}"]
  otlphttp/3:
    endpoint: http://127.0.0.1:4318
    headers: {{x-api-key: "${{env:REDACT_TEST_KEY}}"}}
    compression: "${{env:REDACT_TEST_KEY}}"
service:
  pipelines:
    logs: {{receivers: [otlp], exporters: [otlphttp, otlphttp/2, otlphttp/3]}}
"""
    path, env = _config(tmp_path, bad)
    for command in ("validate", "run", "print-config"):
        result = cli(command, "--config", str(path), env=env)
        assert result.returncode == 1, result
        assert result.stderr.startswith("error: invalid configuration (6 problems):")
        _no_secret_in(result.stdout, result.stderr)
    for expected in [
        "exporters.otlphttp.headers.Authorization: expected a string, got {'value': "
        "'<redacted: 31 chars, ends ...cdef>'}",
        "exporters.otlphttp.tls.insecure: expected true or false, got 'Bearer <redacted: 24",
        "exporters.otlphttp.endpoint: '<redacted: 31 chars, ends ...cdef>' must start with",
        "exporters.otlphttp/2.headers: expected a mapping, got ['<redacted: 46 chars, ends "
        "...cdef>']",
        "exporters.otlphttp/2.endpoint: 'ftp://user:<redacted: 20 chars, ends ...-xyz>@host'",
        "exporters.otlphttp/3.compression: must be one of gzip, zstd, deflate, none; got "
        "'<redacted: 24 chars, ends ...4321>'",
    ]:
        assert expected in result.stderr, expected


def test_config_errors_raised_by_load_config_are_redacted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config([f"yaml:exporters: {{otlphttp: {{endpoint: '{LITERAL}', tls: "
                     f"{{insecure: maybe}}}}}}"], [])
    assert LITERAL not in str(err.value) and "sk-live" not in str(err.value)


# --------------------------------------------------------------------------- logs

def _record(msg: str, *args: Any, exc: BaseException | None = None,
            **extra: Any) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    record = logging.LogRecord("hangar_otelcol.exporter", logging.WARNING, __file__, 1, msg,
                               args or None, exc_info)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("encoding", ["console", "json"])
def test_log_filter_redacts_message_args_extras_and_traceback(encoding: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter() if encoding == "json" else logs.ConsoleFormatter())
    log_filter = logs.RedactingFilter()
    log_filter.register({"sk-live-0123456789abcdef"})
    handler.addFilter(log_filter)
    try:
        raise ConnectionError(f"cannot reach http://u:{URL_PASSWORD}@host:1/")
    except ConnectionError as exc:
        error = exc
    for record in [
        _record("%s: export failed, will retry: POST %s", "otlphttp",
                f"http://gateway:{URL_PASSWORD}@127.0.0.1:4318/v1/logs"),
        _record("sent with header %s", "sk-live-0123456789abcdef"),
        _record("starting", endpoint=f"http://gateway:{URL_PASSWORD}@host",
                headers={"authorization": "sk-live-0123456789abcdef"}),
        _record("send failed", exc=error),
    ]:
        handler.handle(record)
    text = stream.getvalue()
    _no_secret_in(text)
    assert "POST http://gateway:<redacted: 20 chars, ends ...-xyz>@127.0.0.1:4318" in text
    assert "sent with header <redacted: 24 chars, ends ...cdef>" in text
    assert "ConnectionError: cannot reach http://u:<redacted" in text


def test_a_gateway_logs_no_password_and_its_debug_exporter_no_credential(
        tmp_path: Path) -> None:
    dead = free_port()  # nothing listens: every export fails and is logged
    config = gateway(
        {"logs": {"receivers": ["otlp"], "exporters": ["otlphttp", "debug"]}},
        receivers={"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:{http}"}}}},
        exporters={
            "otlphttp": {"endpoint": f"http://gateway:{URL_PASSWORD}@127.0.0.1:{dead}",
                         "headers": {"x-api-key": "${env:REDACT_TEST_KEY}"},
                         "retry_on_failure": {"initial_interval": "50ms",
                                              "max_elapsed_time": "1s"}},
            "debug": {"verbosity": "detailed"},
        })
    env = {"REDACT_TEST_KEY": ENV_SECRET}
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{
        "body": {"stringValue": f"called http://me:{URL_PASSWORD}@tool.example.com"},
        "attributes": [
            {"key": "authorization", "value": {"stringValue": LITERAL}},
            {"key": "http.request.header.x-api-key",
             "value": {"arrayValue": {"values": [{"stringValue": ENV_SECRET}]}}},
            {"key": "mcp.cost.input_tokens", "value": {"intValue": "1200"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "36"}},
        ]}]}]}]}
    with run_gateway(tmp_path, config, env=env) as gw:
        request = urllib.request.Request(
            f"http://127.0.0.1:{gw.ports['http']}/v1/logs", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        deadline = time.monotonic() + 20
        while "export failed" not in gw.stderr() and time.monotonic() < deadline:
            time.sleep(0.1)
    stderr = gw.stderr()
    assert "export failed" in stderr, stderr
    _no_secret_in(stderr)
    assert f"http://gateway:{redact_value(URL_PASSWORD)}@127.0.0.1:{dead}" in stderr
    # the debug exporter: credentials redacted, token counts and costs shown
    assert f"-> authorization: Str({redact_value(LITERAL)})" in stderr
    assert f"-> http.request.header.x-api-key: Slice([{redact_value(ENV_SECRET)}])" in stderr
    assert "-> mcp.cost.input_tokens: Int(1200)" in stderr
    assert "-> gen_ai.usage.output_tokens: Int(36)" in stderr
    assert f"Body: Str(called http://me:{redact_value(URL_PASSWORD)}@tool.example.com)" \
        in stderr


def test_secret_named_url_query_parameters_are_redacted_others_kept() -> None:
    from hangar_otelcol.redact import redact_config

    url = ("https://metrics.example.com/api/v1/write?api_key=dd0123456789abcdef&region=eu"
           "&access_token=tok-42xyz&max_tokens=5")
    assert redact_text(f"POST {url} failed") == (
        "POST https://metrics.example.com/api/v1/write?api_key=<redacted: 18 chars, ends "
        "...cdef>&region=eu&access_token=<redacted: 9 chars>&max_tokens=5 failed")
    config = {"exporters": {"prometheusremotewrite": {"endpoint": url}}}
    shown = redact_config(config)["exporters"]["prometheusremotewrite"]["endpoint"]
    assert "dd0123456789abcdef" not in shown and "tok-42xyz" not in shown
    assert "region=eu" in shown and "max_tokens=5" in shown
