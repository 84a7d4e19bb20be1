"""JWT identity: valid HS256 / RS256 (key file) / JWKS (file and URL) tokens set identity;
expired, wrong issuer or audience, alg none, HS/RS key confusion and bad signatures do not."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.pdata import Batch, Sender
from hangar_otelcol.processors.caller.config import CallerConfig
from hangar_otelcol.processors.caller.factory import FACTORY
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, StandaloneHost, free_port, make_settings
from tests.support import captures as hc

SECRET = "s3cret-for-tests-only-0123456789abcdef"
ISS, AUD = "https://idp.example", "hangar-otelcol"


def pem_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def claims(**over) -> dict:
    base = {"sub": "alice", "type": "user", "roles": ["admin", "mcp_servers:read"],
            "iss": ISS, "aud": AUD, "exp": int(time.time()) + 300}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def jwks_doc(*keys: tuple[str, object]) -> dict:
    out = []
    for kid, key in keys:
        jwk = json.loads(jwt.algorithms.get_default_algorithms()[
            "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"].to_jwk(
            key.public_key()))
        jwk["kid"] = kid
        out.append(jwk)
    return {"keys": out}


async def identify(raw: dict, token: str, telemetry: Telemetry | None = None,
                   proc=None) -> set:
    own = proc is None
    if own:
        proc = FACTORY.create(make_settings(Kind.PROCESSOR, "mcp_caller", telemetry),
                              build(CallerConfig, raw), None, CollectingConsumer())
        await proc.start(StandaloneHost())
    try:
        sender = Sender("grpc", "10.9.9.9", {"authorization": f"Bearer {token}"})
        parts = hc.load("1.6.3", sender)
        for part in parts:
            await proc.consume(Batch(hc.signal_of(part), [part]))
    finally:
        if own:
            await proc.shutdown()
    out = set()
    for p in parts:
        for i in index(p):
            if i.event == TOOL_EVENT:
                a = hc.attrs(i.record)
                out.add((a.get("mcp.caller.type"), a.get("mcp.caller.id"),
                         a.get("mcp.caller.roles")))
    return out


ALICE = {("human", "alice", "admin,mcp_servers:read")}
NOBODY = {(None, None, None)}


@pytest.fixture
def hs_config(monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("HANGAR_TEST_JWT_SECRET", SECRET)
    return {"jwt": {"secret_env": "HANGAR_TEST_JWT_SECRET", "algorithms": ["HS256"],
                    "issuer": ISS, "audience": [AUD]}}


async def test_hs256_valid(hs_config: dict) -> None:
    assert await identify(hs_config, jwt.encode(claims(), SECRET, "HS256")) == ALICE


async def test_hs256_secret_file_and_scope_roles(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    cfg = {"jwt": {"secret_file": str(secret), "algorithms": ["HS256"]}}
    token = jwt.encode(claims(roles=None, scope="read write", type="service",
                              sub="ci-bot"), SECRET, "HS256")
    assert await identify(cfg, token) == {("service", "ci-bot", "read,write")}


async def test_rs256_public_key_file(tmp_path: Path, rsa_key) -> None:
    pub = tmp_path / "pub.pem"
    pub.write_bytes(pem_public(rsa_key))
    cfg = {"jwt": {"public_key_file": str(pub), "algorithms": ["RS256"], "issuer": ISS,
                   "audience": [AUD]}}
    assert await identify(cfg, jwt.encode(claims(), rsa_key, "RS256")) == ALICE


async def test_jwks_file_picks_key_by_kid(tmp_path: Path, rsa_key, ec_key) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_doc(("r1", rsa_key), ("e1", ec_key))))
    cfg = {"jwt": {"jwks_file": str(path), "algorithms": ["RS256", "ES256"]}}
    tok = jwt.encode(claims(groups=["g1", "g2"], roles=None), ec_key, "ES256",
                     headers={"kid": "e1"})
    assert await identify(cfg, tok) == {("human", "alice", "g1,g2")}
    tok = jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "r1"})
    assert await identify(cfg, tok) == ALICE


async def test_jwks_url_is_fetched_and_refreshed_on_new_kid(rsa_key) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    served = {"doc": jwks_doc(("k1", rsa_key)), "hits": 0}

    async def handler(_: web.Request) -> web.Response:
        served["hits"] += 1
        return web.json_response(served["doc"])

    app = web.Application()
    app.router.add_get("/jwks.json", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        cfg = {"jwt": {"jwks_url": f"http://127.0.0.1:{port}/jwks.json",
                       "algorithms": ["RS256"], "jwks_min_refresh": 0}}
        proc = FACTORY.create(make_settings(Kind.PROCESSOR, "mcp_caller"),
                              build(CallerConfig, cfg), None, CollectingConsumer())
        await proc.start(StandaloneHost())
        try:
            tok = jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "k1"})
            assert await identify(cfg, tok, proc=proc) == ALICE
            assert served["hits"] == 1
            # key rotation: the IdP now signs with k2; the unknown kid triggers a refetch
            served["doc"] = jwks_doc(("k1", rsa_key), ("k2", other))
            tok = jwt.encode(claims(sub="bob"), other, "RS256", headers={"kid": "k2"})
            assert await identify(cfg, tok, proc=proc) == {
                ("human", "bob", "admin,mcp_servers:read")}
            assert served["hits"] == 2
        finally:
            await proc.shutdown()
    finally:
        await runner.cleanup()


def _alg_none_token() -> str:
    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."


def _hs_rs_confusion(public_pem: bytes) -> str:
    # the classic attack: sign HS256 with the server's *public* RSA key as the HMAC secret
    import hashlib
    import hmac
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    sig = hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()
    return (header + b"." + body + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")).decode()


@pytest.mark.parametrize(("case", "reason"), [
    ("expired", "expired"), ("issuer", "issuer"), ("audience", "audience"),
    ("none", "algorithm"), ("confusion", "algorithm"), ("signature", "signature"),
    ("garbage", "malformed"), ("no_exp", "missing_claim"),
])
async def test_bad_tokens_never_set_identity(tmp_path: Path, rsa_key, case: str, reason: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    pub = tmp_path / "pub.pem"
    pub.write_bytes(pem_public(rsa_key))
    cfg = {"jwt": {"public_key_file": str(pub), "algorithms": ["RS256"], "issuer": ISS,
                   "audience": [AUD], "leeway": "5s"}}
    wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = {
        "expired": lambda: jwt.encode(claims(exp=int(time.time()) - 60), rsa_key, "RS256"),
        "issuer": lambda: jwt.encode(claims(iss="https://evil"), rsa_key, "RS256"),
        "audience": lambda: jwt.encode(claims(aud="someone-else"), rsa_key, "RS256"),
        "none": _alg_none_token,
        "confusion": lambda: _hs_rs_confusion(pem_public(rsa_key)),
        "signature": lambda: jwt.encode(claims(), wrong_key, "RS256"),
        "garbage": lambda: "not.a.jwt",
        "no_exp": lambda: jwt.encode(claims(exp=None), rsa_key, "RS256"),
    }[case]()
    telemetry = Telemetry()
    with caplog.at_level(logging.WARNING):
        assert await identify(cfg, token, telemetry) == NOBODY
    rejected = telemetry.registry.get_sample_value(
        "otelcol_processor_mcp_caller_jwt_rejected_total",
        {"processor": "mcp_caller", "reason": reason})
    assert rejected == 1  # once per request (token), not once per span (1.6.3 sends 12)
    lines = [r for r in caplog.records if "bearer token rejected" in r.getMessage()]
    assert len(lines) == 1 and f"({reason})" in lines[0].getMessage()


async def test_hs_token_refused_when_only_rs_accepted(hs_config: dict, tmp_path: Path,
                                                      rsa_key) -> None:
    pub = tmp_path / "pub.pem"
    pub.write_bytes(pem_public(rsa_key))
    cfg = {"jwt": {"public_key_file": str(pub), "algorithms": ["RS256"]}}
    assert await identify(cfg, jwt.encode(claims(), SECRET, "HS256")) == NOBODY


async def test_bad_token_falls_back_to_next_source(hs_config: dict) -> None:
    hs_config["static"] = {"mcp-hangar": {"type": "service", "id": "fallback"}}
    token = jwt.encode(claims(exp=int(time.time()) - 60), SECRET, "HS256")
    assert await identify(hs_config, token) == {("service", "fallback", None)}
