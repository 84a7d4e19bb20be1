"""bearertokenauth: tokens -> principals, refusals by reason, the token file reloaded on
change (a bad version keeps the tokens before it), config errors that name where a token is
and never show it, and the constant-time comparison over every token."""

from __future__ import annotations

import hmac
import logging
from pathlib import Path
from typing import Any

import pytest

from hangar_otelcol.auth import Authenticator
from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.extensions.bearertokenauth.extension import BearerTokenAuth
from hangar_otelcol.extensions.bearertokenauth.factory import FACTORY
from hangar_otelcol.pdata import Principal
from hangar_otelcol.registry import default_registry
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.support.auth import config_errors as support_config_errors
from tests.support.auth import creds, refused
from tests.support.auth import replace_file as write

SECRET = "s3cr3t-Tok3n-value"


async def started(raw: dict[str, Any], cid: str = "bearertokenauth",
                  telemetry: Telemetry | None = None) -> BearerTokenAuth:
    config = build(FACTORY.config_class, raw)
    ext = FACTORY.create(make_settings(Kind.EXTENSION, cid, telemetry), config)
    await ext.start(StandaloneHost())
    return ext


def config_errors(raw: dict[str, Any]) -> list[str]:
    return support_config_errors(FACTORY, raw, "extensions.bearertokenauth")


def test_the_factory_provides_an_authenticator() -> None:
    factory = default_registry().get(Kind.EXTENSION, "bearertokenauth")
    assert factory is FACTORY
    assert "authenticator" in FACTORY.provides


async def test_each_token_proves_its_principal() -> None:
    ext = await started({
        "token": "single", "tokens": [
            "rotated",
            {"token": "agent-tok", "principal": "ci-agent", "type": "agent",
             "roles": ["ci", "deploy"]}]}, cid="bearertokenauth/hangar-prod")
    assert isinstance(ext, Authenticator)
    assert ext.challenge == 'Bearer realm="hangar-otelcol"'
    assert not ext.needs_client_certificate
    own = Principal("bearertokenauth/hangar-prod", "hangar-prod", "service")
    assert await ext.authenticate(creds("Bearer single")) == own
    assert await ext.authenticate(creds("Bearer rotated")) == own
    agent = await ext.authenticate(creds("Bearer agent-tok"))
    assert agent == Principal("bearertokenauth/hangar-prod", "ci-agent", "agent",
                              ("ci", "deploy"))
    assert agent.name == "bearertokenauth/hangar-prod:ci-agent"


async def test_the_principal_defaults() -> None:
    ext = await started({"token": "t"})
    assert (await ext.authenticate(creds("Bearer t"))).subject == "bearertokenauth"
    ext = await started({"token": "t", "principal": "gw", "type": "human", "roles": ["r"]})
    assert await ext.authenticate(creds("Bearer t")) == Principal("bearertokenauth", "gw",
                                                                  "human", ("r",))


async def test_the_scheme_is_case_insensitive_and_spaces_around_are_fine() -> None:
    ext = await started({"token": SECRET})
    for value in (f"bearer {SECRET}", f"BEARER  {SECRET} ", f"Bearer\t{SECRET}"):
        assert (await ext.authenticate(creds(value))).subject == "bearertokenauth"


async def test_an_unknown_token_is_refused_without_showing_it() -> None:
    ext = await started({"token": SECRET})
    error = await refused(ext, "Bearer not-the-token-at-all")
    assert error.reason == "unknown"
    assert "not-the-token" not in str(error) and SECRET not in str(error)
    assert not error.denied
    # a prefix or an extension of the real token is just as unknown
    assert (await refused(ext, f"Bearer {SECRET[:-1]}")).reason == "unknown"
    assert (await refused(ext, f"Bearer {SECRET}x")).reason == "unknown"


@pytest.mark.parametrize("value", [None, "", "   "])
async def test_no_credential_is_missing(value: str | None) -> None:
    ext = await started({"token": SECRET})
    error = await refused(ext, value)
    assert error.reason == "missing"
    assert "authorization" in str(error)


@pytest.mark.parametrize("value", [f"Basic {SECRET}", "Bearer", "Bearer   ", SECRET,
                                   f"Bearer {SECRET} extra", f"Bearer {SECRET}, Bearer {SECRET}",
                                   f"Token {SECRET}"])
async def test_another_scheme_or_a_malformed_value_is_malformed(value: str) -> None:
    ext = await started({"token": SECRET})
    error = await refused(ext, value)
    assert error.reason == "malformed"
    assert SECRET not in str(error)


async def test_header_and_scheme_are_configurable() -> None:
    ext = await started({"token": SECRET, "header": "X-API-Key", "scheme": ""})
    assert (await ext.authenticate(creds(SECRET, "x-api-key"))).subject == "bearertokenauth"
    assert (await refused(ext, f"Bearer {SECRET}")).reason == "missing"  # other header
    ext = await started({"token": SECRET, "scheme": "Token"})
    assert ext.challenge == 'Token realm="hangar-otelcol"'
    assert (await ext.authenticate(creds(f"token {SECRET}"))).subject == "bearertokenauth"
    assert (await refused(ext, f"Bearer {SECRET}")).reason == "malformed"


async def test_every_token_is_compared_in_constant_time(monkeypatch) -> None:
    """The first token matches, the request still compares all of them (digests of one
    length, hmac.compare_digest); an unknown token compares exactly as many."""
    tokens = [f"tok-{i}" for i in range(10)]
    ext = await started({"tokens": tokens})
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    await ext.authenticate(creds("Bearer tok-0"))
    assert len(calls) == 10
    assert {lengths for lengths in calls} == {(32, 32)}  # SHA-256 digests, whatever the token
    calls.clear()
    await refused(ext, "Bearer a-much-longer-token-than-any-configured-one")
    assert len(calls) == 10 and {lengths for lengths in calls} == {(32, 32)}


async def test_the_token_file_is_reloaded_when_it_changes(tmp_path: Path, caplog) -> None:
    path = tmp_path / "tokens.yaml"
    write(path, "- {token: first-token, principal: alice, type: human}\n")
    telemetry = Telemetry()
    ext = await started({"filename": str(path), "reload_interval": 0, "token": "static"},
                        telemetry=telemetry)
    reloads = telemetry.counter("otelcol_extension_auth_reloads_total", "",
                                ("extension", "result"))
    assert (await ext.authenticate(creds("Bearer first-token"))).subject == "alice"
    assert (await ext.authenticate(creds("Bearer static"))).subject == "bearertokenauth"

    write(path, "- {token: second-token, principal: bob, roles: [ops]}\n- plain-one\n")
    bob = await ext.authenticate(creds("Bearer second-token"))
    assert (bob.subject, bob.type, bob.roles) == ("bob", "service", ("ops",))
    assert (await ext.authenticate(creds("Bearer plain-one"))).subject == "bearertokenauth"
    assert (await refused(ext, "Bearer first-token")).reason == "unknown"
    assert (await ext.authenticate(creds("Bearer static"))).subject == "bearertokenauth"
    assert reloads.get(("bearertokenauth", "ok")) == 1

    # a bad version (a duplicate, and an item without a token) keeps the tokens before it
    caplog.set_level(logging.WARNING)
    write(path, "- {token: leaked-value-1}\n- leaked-value-1\n- {principal: x}\n")
    assert (await ext.authenticate(creds("Bearer second-token"))).subject == "bob"
    assert (await refused(ext, "Bearer leaked-value-1")).reason == "unknown"
    assert reloads.get(("bearertokenauth", "failed")) == 1
    assert "no longer loads, keeping the 3 tokens" in caplog.text
    assert f"{path}[1]: duplicate of {path}[0]" in caplog.text
    assert "leaked-value-1" not in caplog.text

    # not YAML at all (several lines), then a removed file: still the old tokens
    write(path, "[unclosed\n{also: bad\n")
    assert (await ext.authenticate(creds("Bearer second-token"))).subject == "bob"
    assert reloads.get(("bearertokenauth", "failed")) == 2
    path.unlink()
    assert (await ext.authenticate(creds("Bearer second-token"))).subject == "bob"

    # fixed: loaded again
    write(path, "- third-token\n")
    assert (await ext.authenticate(creds("Bearer third-token"))).subject == "bearertokenauth"
    assert (await refused(ext, "Bearer second-token")).reason == "unknown"
    assert reloads.get(("bearertokenauth", "ok")) == 2


async def test_the_file_is_checked_at_most_every_reload_interval(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    write(path, "- old-token\n")
    ext = await started({"filename": str(path), "reload_interval": "1h"})
    await ext.authenticate(creds("Bearer old-token"))
    write(path, "- new-token-longer\n")
    assert (await refused(ext, "Bearer new-token-longer")).reason == "unknown"
    assert (await ext.authenticate(creds("Bearer old-token"))).subject == "bearertokenauth"


async def test_a_file_with_one_line_is_one_token(tmp_path: Path) -> None:
    """The Collector's format: the file holds the token itself."""
    path = tmp_path / "token"
    path.write_text("0x1F00\n")  # YAML would read an integer; the text is the token
    ext = await started({"filename": str(path), "principal": "hangar"})
    assert (await ext.authenticate(creds("Bearer 0x1F00"))).subject == "hangar"
    path.write_text("[not-yaml-but-a-token\n")
    ext = await started({"filename": str(path)})
    assert (await ext.authenticate(creds("Bearer [not-yaml-but-a-token"))).subject


@pytest.mark.parametrize("number", [83, 31, 1000, 45000])
def test_a_token_yaml_read_as_a_number_is_refused(number: int) -> None:
    # YAML reads 0123 as 83, 0x1f as 31, 1_000 as 1000, 12:30:00 as 45000: taking the digits
    # would make another token valid than the one written
    errors = config_errors({"token": number})
    assert errors[0] == ("extensions.bearertokenauth.token: a token must be a string (quote "
                         "it in YAML)"), errors
    assert str(number) not in " ".join(errors)


@pytest.mark.parametrize("raw,expected", [
    ({}, ["extensions.bearertokenauth.token: no token configured (set token, tokens or "
          "filename)"]),
    ({"tokens": []}, ["extensions.bearertokenauth.token: no token configured"]),
    ({"token": "  "}, ["extensions.bearertokenauth.token: must not be empty"]),
    ({"tokens": [SECRET, {"token": ""}]},
     ["extensions.bearertokenauth.tokens[1].token: required, and must not be empty"]),
    ({"tokens": ["a-token", "other", {"token": "a-token"}]},
     ["extensions.bearertokenauth.tokens[2].token: duplicate of tokens[0]"]),
    ({"token": SECRET, "tokens": ["x", SECRET]},
     ["extensions.bearertokenauth.tokens[1]: duplicate of token"]),
    ({"tokens": [{"token": SECRET, "type": "robot"}]},
     ["extensions.bearertokenauth.tokens[0].type: must be one of human, agent, service; "
      "got 'robot'"]),
    ({"tokens": [{"token": SECRET, "role": ["x"]}]},
     ["extensions.bearertokenauth.tokens[0]: unknown key role (known keys: token, principal, "
      "type, roles)"]),
    ({"tokens": [{"token": SECRET, "roles": "admin"}]},
     ["extensions.bearertokenauth.tokens[0].roles: must be a list of role names"]),
    ({"tokens": [[SECRET]]},
     ["extensions.bearertokenauth.tokens[0]: a token must be a string (quote it in YAML)"]),
    ({"tokens": [f"{SECRET} x"]},
     ["extensions.bearertokenauth.tokens[0]: must not contain white space"]),
    ({"token": SECRET, "scheme": "Bearer x"},
     ["extensions.bearertokenauth.scheme: must be one word, got 'Bearer x'"]),
    ({"token": SECRET, "filename": "/nonexistent/tokens.yaml"},
     ["extensions.bearertokenauth.filename: /nonexistent/tokens.yaml does not exist or is "
      "not a file"]),
])
def test_config_errors_name_the_key_and_never_the_token(raw, expected) -> None:
    errors = config_errors(raw)
    for want in expected:
        assert any(e.startswith(want) for e in errors), errors
    assert not any(SECRET in e for e in errors), errors


def test_file_errors_name_the_file_and_the_item(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(f"- {SECRET}\n- {{token: other, type: nope}}\n- {{principal: p}}\n"
                    f"- {{token: {SECRET}}}\n")
    errors = config_errors({"filename": str(path)})
    assert errors == [
        f"extensions.bearertokenauth.filename: {path}[1].type: must be one of human, agent, "
        "service; got 'nope'",
        f"extensions.bearertokenauth.filename: {path}[2].token: required, and must not be "
        "empty",
        f"extensions.bearertokenauth.filename: {path}[3].token: duplicate of {path}[0]"]
    path.write_text("{a: mapping}\n")
    assert config_errors({"filename": str(path)}) == [
        f"extensions.bearertokenauth.filename: {path}: expected a list of tokens, got a "
        "mapping"]
    path.write_text("[]\n")
    assert config_errors({"filename": str(path)}) == [
        f"extensions.bearertokenauth.filename: {path}: holds no token"]
    # a token in both the file and the config
    path.write_text(f"- {SECRET}\n")
    assert config_errors({"filename": str(path), "tokens": [SECRET]}) == [
        f"extensions.bearertokenauth.filename: {path}[0]: duplicate of tokens[0]"]


async def test_a_file_gone_bad_before_the_start_fails_the_start(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text("- good\n")
    config = build(FACTORY.config_class, {"filename": str(path)})
    path.write_text(f"- {SECRET}\n- {SECRET}\n")
    ext = FACTORY.create(make_settings(Kind.EXTENSION, "bearertokenauth"), config)
    with pytest.raises(ConfigError) as info:
        await ext.start(StandaloneHost())
    assert info.value.errors == [f"filename: {path}[1]: duplicate of {path}[0]"]
