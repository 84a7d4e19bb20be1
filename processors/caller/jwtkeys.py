"""JWT verification with PyJWT: explicit algorithms, keys by algorithm family, JWKS cache.

A token never chooses its own key type: HS* tokens are checked only against the configured
secret, RS*/PS*/ES*/EdDSA tokens only against the public key or the JWKS. So the classic
HS/RS confusion (an HS256 token signed with the RSA public key as the secret) and
``alg: none`` are refused before any signature check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from typing import Any

import aiohttp
import jwt

from hangar_otelcol.processors.caller.config import HS_ALGS, JwtConfig


class TokenRejected(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# PyJWT exception -> reason label of the self-metric (most specific first)
_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidIssuerError, "issuer"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "signature"),
    (jwt.InvalidAlgorithmError, "algorithm"),
    (jwt.InvalidKeyError, "algorithm"),
    (jwt.DecodeError, "malformed"),
]


def reason_of(exc: Exception) -> str:
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    return "invalid"


class JwtVerifier:
    def __init__(self, config: JwtConfig, logger: logging.Logger) -> None:
        self._config = config
        self._log = logger
        self._algorithms = list(config.algorithms)
        self._hs = [a for a in self._algorithms if a in HS_ALGS]
        self._asym = [a for a in self._algorithms if a not in HS_ALGS]
        self._secret: bytes | None = None
        self._public_key: Any = None
        self._jwks: dict[str, Any] = {}  # kid -> PyJWK
        self._jwks_anon: list[Any] = []  # keys without kid
        self._jwks_tried_at = 0.0
        self._refresh_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._load_static_keys()

    def _load_static_keys(self) -> None:
        c = self._config
        if c.secret_env:
            self._secret = os.environ.get(c.secret_env, "").encode()
        elif c.secret_file:
            with open(c.secret_file, "rb") as fh:
                self._secret = fh.read().strip()
        if c.public_key_file:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key
            with open(c.public_key_file, "rb") as fh:
                self._public_key = load_pem_public_key(fh.read())
        if c.jwks_file:
            with open(c.jwks_file, encoding="utf-8") as fh:
                self._set_jwks(json.load(fh))

    def _set_jwks(self, doc: Any) -> None:
        keys = jwt.PyJWKSet.from_dict(doc).keys  # raises PyJWKSetError on a bad document
        self._jwks = {k.key_id: k for k in keys if k.key_id}
        self._jwks_anon = [k for k in keys if not k.key_id]

    async def start(self) -> None:
        if self._config.jwks_url:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=float(self._config.jwks_timeout)))
            await self._fetch_jwks()
            self._refresh_task = asyncio.create_task(self._refresh_loop())

    async def shutdown(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh_task
            self._refresh_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(float(self._config.jwks_refresh))
            await self._fetch_jwks()

    async def _fetch_jwks(self) -> bool:
        """Fetch the JWKS URL; on any failure keep the keys we have and say why."""
        self._jwks_tried_at = time.monotonic()
        url = self._config.jwks_url
        if self._session is None:
            return False
        try:
            async with self._session.get(url) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                doc = await resp.json(content_type=None)
            self._set_jwks(doc)
            return True
        except Exception as exc:
            self._log.warning("jwt: cannot refresh JWKS from %s, keeping %d cached keys: %s",
                              url, len(self._jwks) + len(self._jwks_anon), exc)
            return False

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or TokenRejected(reason)."""
        c = self._config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected("malformed", str(exc)) from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise TokenRejected("algorithm", f"algorithm {alg!r} is not accepted")
        if alg in HS_ALGS:
            key: Any = self._secret
            algorithms = self._hs
        else:
            key = await self._asymmetric_key(header.get("kid"))
            algorithms = self._asym
        if key is None:
            raise TokenRejected("unknown_key", f"no key for algorithm {alg} / kid "
                                f"{header.get('kid')!r}")
        options: Any = {"require": list(c.require)}  # PyJWT's Options TypedDict
        kwargs: dict[str, Any] = {}
        if c.issuer:
            kwargs["issuer"] = c.issuer
        if c.audience:
            kwargs["audience"] = list(c.audience)
        else:
            options["verify_aud"] = False
        try:
            return jwt.decode(token, key, algorithms=algorithms, options=options,
                              leeway=float(c.leeway), **kwargs)
        except jwt.PyJWTError as exc:
            raise TokenRejected(reason_of(exc), str(exc)) from None

    async def _asymmetric_key(self, kid: Any) -> Any:
        if self._public_key is not None and not (self._jwks or self._jwks_anon):
            return self._public_key
        if isinstance(kid, str) and kid:
            key = self._jwks.get(kid)
            if key is None and self._config.jwks_url and (
                    time.monotonic() - self._jwks_tried_at
                    >= float(self._config.jwks_min_refresh)):
                await self._fetch_jwks()  # key rotation: a new kid appeared
                key = self._jwks.get(kid)
            if key is not None:
                return key.key
        elif len(self._jwks_anon) + len(self._jwks) == 1:
            only = (self._jwks_anon or list(self._jwks.values()))[0]
            return only.key
        return self._public_key
