"""A real OpenID provider's key endpoints on 127.0.0.1 (aiohttp): the discovery document and
a JWKS whose keys a test changes; tokens signed with PyJWT, keys made with cryptography."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hangar_otelcol.testing import free_port

AUDIENCE = "hangar-otelcol"


def public_jwk(key: Any, kid: str) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
        jwk["alg"] = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
        jwk["alg"] = "ES256"
    else:
        raise TypeError(type(key))
    jwk.update(kid=kid, use="sig")
    return jwk


class Idp:
    """``/.well-known/openid-configuration`` and ``/jwks``; ``keys`` is the JWKS served."""

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/realms/test"
        self.keys: list[dict[str, Any]] = []
        self.jwks_fetches = 0
        self.discoveries = 0
        self._runner: web.AppRunner | None = None

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks"

    async def _discovery(self, _: web.Request) -> web.Response:
        self.discoveries += 1
        return web.json_response({"issuer": self.issuer, "jwks_uri": self.jwks_url,
                                  "id_token_signing_alg_values_supported": ["RS256", "ES256"]})

    async def _jwks(self, _: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response({"keys": self.keys})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/realms/test/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def claims(self, **over: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"sub": "alice", "iss": self.issuer, "aud": AUDIENCE, "iat": now,
                "exp": now + 300, "groups": ["admins", "mcp-users"]}
        base.update(over)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, key: Any, kid: str = "k1", alg: str = "RS256", **over: Any) -> str:
        return jwt.encode(self.claims(**over), key, algorithm=alg, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any]) -> str:
    """``alg: none``: header and payload, no signature."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def hs256_token(claims: dict[str, Any], secret: bytes, kid: str = "k1") -> str:
    """HS256 with any bytes as the secret (PyJWT refuses a PEM public key as an HMAC
    secret; an attacker does not)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"
