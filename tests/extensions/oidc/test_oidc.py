"""The oidc authenticator against a real OpenID provider on 127.0.0.1 (tests/.../idp.py):
discovery, valid tokens, every refusal by reason, key rotation and a provider that is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hangar_otelcol.auth import Authenticator, AuthError, Credentials
from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.extensions.oidc.extension import OidcAuthenticator
from hangar_otelcol.extensions.oidc.factory import FACTORY
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, free_port, make_settings
from tests.extensions.oidc.idp import AUDIENCE, Idp, hs256_token, public_jwk, unsigned_token


@pytest.fixture(scope="module")
def rsa_key2() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def idp(rsa_key, ec_key) -> AsyncIterator[Idp]:
    server = Idp()
    server.keys = [public_jwk(rsa_key, "k1"), public_jwk(ec_key, "e1")]
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make() -> AsyncIterator[Any]:
    started: list[OidcAuthenticator] = []

    async def start(raw: dict[str, Any]) -> OidcAuthenticator:
        config = build(FACTORY.config_class, raw)
        ext = FACTORY.create(make_settings(Kind.EXTENSION, "oidc", Telemetry()), config)
        await ext.start(StandaloneHost())
        started.append(ext)
        return ext

    yield start
    for ext in started:
        await ext.shutdown()


def base_config(idp: Idp, **over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"issuer_url": idp.issuer, "audience": AUDIENCE,
                           "algorithms": ["RS256", "ES256"]}
    raw.update(over)
    return raw


def bearer(token: str, transport: str = "grpc") -> Credentials:
    return Credentials(transport, "127.0.0.1", {"authorization": f"Bearer {token}"})


async def refused(ext: OidcAuthenticator, credentials: Credentials) -> AuthError:
    with pytest.raises(AuthError) as info:
        await ext.authenticate(credentials)
    assert not info.value.denied
    return info.value


def refusals(ext: OidcAuthenticator, reason: str) -> float:
    return ext._refused.get(reason)


async def test_discovery_finds_the_jwks_and_a_valid_token_is_the_principal(
        idp, make, rsa_key, ec_key) -> None:
    ext = await make(base_config(idp, type_claim="principal_type"))
    assert isinstance(ext, Authenticator) and not ext.needs_client_certificate
    assert idp.discoveries == 1 and idp.jwks_fetches == 1
    principal = await ext.authenticate(bearer(idp.token(rsa_key)))
    assert (principal.authenticator, principal.subject, principal.type, principal.roles) == \
        ("oidc", "alice", "human", ("admins", "mcp-users"))
    assert principal.attributes == {"issuer": idp.issuer}
    # an EC key of the same JWKS; roles from a space-separated string; the type claim
    agent = await ext.authenticate(bearer(idp.token(
        ec_key, kid="e1", alg="ES256", sub="build-agent", groups="deploy read",
        principal_type="agent")))
    assert (agent.subject, agent.type, agent.roles) == ("build-agent", "agent",
                                                        ("deploy", "read"))


async def test_username_and_groups_claims_are_configurable(idp, make, rsa_key) -> None:
    ext = await make(base_config(idp, username_claim="preferred_username",
                                 groups_claim="roles", required_claims=["email"]))
    token = idp.token(rsa_key, preferred_username="alice.w", roles=["viewer"],
                      email="alice@example.com")
    principal = await ext.authenticate(bearer(token))
    assert (principal.subject, principal.roles) == ("alice.w", ("viewer",))
    no_email = idp.token(rsa_key, preferred_username="bob")
    assert (await refused(ext, bearer(no_email))).reason == "missing_claim"
    no_username = idp.token(rsa_key, email="carol@example.com")
    assert (await refused(ext, bearer(no_username))).reason == "missing_claim"


async def test_every_bad_token_is_refused_with_its_reason_and_counted(
        idp, make, rsa_key, rsa_key2) -> None:
    ext = await make(base_config(idp))
    now = int(time.time())
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    cases = {
        "expired": idp.token(rsa_key, iat=now - 600, exp=now - 60),
        "not_yet_valid": idp.token(rsa_key, nbf=now + 600),
        "audience": idp.token(rsa_key, aud="another-client"),
        "issuer": idp.token(rsa_key, iss="https://evil.example"),
        "missing_claim": idp.token(rsa_key, exp=None),  # exp is always required
        # signed by another key under the JWKS key's kid
        "signature": idp.token(rsa_key2, kid="k1"),
        "malformed": "not.a.jwt",
    }
    for reason, token in cases.items():
        error = await refused(ext, bearer(token))
        assert error.reason == reason, (reason, str(error))
        assert error.challenge == 'Bearer realm="hangar-otelcol", error="invalid_token"'
        assert token not in str(error)
    # alg none, and HS256 "signed" with the RSA public key as the secret (key confusion):
    # refused before any signature check, since only RS256 / ES256 are accepted
    assert (await refused(ext, bearer(unsigned_token(idp.claims())))).reason == "algorithm"
    confused = hs256_token(idp.claims(), public_pem)
    assert (await refused(ext, bearer(confused))).reason == "algorithm"
    # no token, or not a bearer token: the plain challenge (the receiver adds it)
    missing = await refused(ext, Credentials("http", "127.0.0.1", {}))
    assert missing.reason == "missing" and not missing.challenge
    assert ext.challenge == 'Bearer realm="hangar-otelcol"'
    basic = Credentials("http", "127.0.0.1", {"authorization": "Basic YWxpY2U6cHc="})
    assert (await refused(ext, basic)).reason == "malformed"
    for reason in ("expired", "not_yet_valid", "audience", "issuer", "missing_claim",
                   "signature", "missing"):
        assert refusals(ext, reason) == 1, reason
    assert refusals(ext, "algorithm") == 2
    assert refusals(ext, "malformed") == 2


async def test_leeway_accepts_a_token_just_expired(idp, make, rsa_key) -> None:
    ext = await make(base_config(idp, leeway="2m"))
    now = int(time.time())
    principal = await ext.authenticate(bearer(idp.token(rsa_key, iat=now - 600,
                                                        exp=now - 30)))
    assert principal.subject == "alice"


async def test_an_unknown_kid_refetches_the_jwks_key_rotation(
        idp, make, rsa_key, rsa_key2) -> None:
    ext = await make(base_config(idp, jwks_min_refresh="0s"))
    rotated = idp.token(rsa_key2, kid="k2", sub="after-rotation")
    assert (await refused(ext, bearer(rotated))).reason == "unknown_key"
    assert idp.jwks_fetches == 2  # at start, and once for the unknown kid
    idp.keys = [public_jwk(rsa_key2, "k2")]  # the provider rotates its key
    principal = await ext.authenticate(bearer(rotated))
    assert principal.subject == "after-rotation"
    assert idp.jwks_fetches == 3
    # the old key is gone from the provider's JWKS, so from ours
    assert (await refused(ext, bearer(idp.token(rsa_key, sub="old")))).reason == \
        "unknown_key"


async def test_unknown_kids_refetch_at_most_every_jwks_min_refresh(
        idp, make, rsa_key2) -> None:
    ext = await make(base_config(idp))  # jwks_min_refresh: 30s
    for i in range(5):
        token = idp.token(rsa_key2, kid=f"random-{i}")
        assert (await refused(ext, bearer(token))).reason == "unknown_key"
    assert idp.jwks_fetches == 1  # the fetch at start was less than 30 s ago


async def test_a_provider_that_is_down_leaves_the_cached_keys(idp, make, rsa_key,
                                                               rsa_key2) -> None:
    ext = await make(base_config(idp, jwks_refresh="100ms", jwks_min_refresh="0s",
                                 jwks_timeout="1s"))
    await idp.stop()
    verifier = ext.verifier
    assert verifier is not None
    deadline = time.monotonic() + 5
    while verifier.jwks_failures < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # periodic refreshes fail
    assert verifier.jwks_failures >= 2
    unknown = idp.token(rsa_key2, kid="k2")
    assert (await refused(ext, bearer(unknown))).reason == "unknown_key"  # refetch fails
    principal = await ext.authenticate(bearer(idp.token(rsa_key, sub="still-works")))
    assert principal.subject == "still-works"
    assert verifier.key_count == 2


async def test_jwks_url_and_jwks_file_need_no_discovery(idp, make, rsa_key, tmp_path) -> None:
    import json
    by_url = await make(base_config(idp, jwks_url=idp.jwks_url))
    assert (await by_url.authenticate(bearer(idp.token(rsa_key)))).subject == "alice"
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": idp.keys}))
    by_file = await make(base_config(idp, jwks_file=str(path)))
    assert (await by_file.authenticate(bearer(idp.token(rsa_key)))).subject == "alice"
    assert idp.discoveries == 0


async def test_a_failed_discovery_fails_the_start_naming_issuer_url(idp, make) -> None:
    closed = f"http://127.0.0.1:{free_port()}/realms/test"
    with pytest.raises(ValueError, match=r"^issuer_url: cannot read the OpenID configuration"
                                         r" of http://127\.0\.0\.1"):
        await make(base_config(idp, issuer_url=closed, jwks_timeout="2s"))
    # a document naming another issuer is refused too (OpenID Connect Discovery 4.3)
    with pytest.raises(ValueError, match=r"^issuer_url: .* names the issuer"):
        await make(base_config(idp, issuer_url=idp.issuer + "/"))


@pytest.mark.parametrize(("raw", "problem"), [
    ({"issuer_url": "https://idp.example", "algorithms": ["RS256"]}, "audience: required"),
    ({"issuer_url": "https://idp.example", "audience": "x"}, "algorithms: required"),
    ({"issuer_url": "https://idp.example", "audience": "x", "algorithms": ["none"]},
     "algorithms[0]: unsupported algorithm 'none'"),
    ({"issuer_url": "https://idp.example", "audience": "x", "algorithms": ["HS256"]},
     "algorithms[0]: unsupported algorithm 'HS256'"),
    ({"audience": "x", "algorithms": ["RS256"]}, "issuer_url: required"),
    ({"issuer_url": "idp.example", "audience": "x", "algorithms": ["RS256"]},
     "issuer_url: expected an https URL"),
    # keys over plain http to another host could be swapped on the way
    ({"issuer_url": "http://idp.example", "audience": "x", "algorithms": ["RS256"]},
     "issuer_url: 'http://idp.example' is plain http to another host: use https"),
    ({"issuer_url": "https://idp.example", "jwks_url": "http://keys.example/jwks",
      "audience": "x", "algorithms": ["RS256"]}, "jwks_url: 'http://keys.example/jwks' is "
                                                  "plain http"),
    ({"issuer_url": "https://idp.example", "audience": "x", "algorithms": ["RS256"],
      "default_type": "robot"}, "default_type: must be one of"),
])
def test_config_problems_name_the_key(raw, problem) -> None:
    with pytest.raises(ConfigError) as info:
        build(FACTORY.config_class, raw)
    assert any(problem in e for e in info.value.errors), info.value.errors


def test_audience_may_be_a_list() -> None:
    config = build(FACTORY.config_class, {"issuer_url": "https://idp.example",
                                          "audience": ["a", "b"], "algorithms": ["RS256"]})
    assert config.audiences == ["a", "b"]
