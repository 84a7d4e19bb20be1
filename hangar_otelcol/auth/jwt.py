"""JWT verification shared by the components that read tokens (the ``oidc`` extension,
the ``mcp_caller`` processor): PyJWT with explicit algorithms, keys by algorithm family, a
JWKS cache.

A token never chooses its own key type: HS* tokens are checked only against the configured
secret, RS*/PS*/ES*/EdDSA tokens only against the public key or the JWKS. So the classic
HS/RS confusion (an HS256 token signed with the RSA public key as the secret) and
``alg: none`` are refused before any signature check.

A rejection is a ``TokenRejected`` whose ``reason`` labels self-metrics: ``malformed``,
``algorithm``, ``unknown_key``, ``signature``, ``expired``, ``not_yet_valid``, ``issuer``,
``audience``, ``missing_claim`` (``invalid`` for anything else). Its message never contains
the token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import jwt

from hangar_otelcol.config.types import Duration
from hangar_otelcol.tasks import cancel_and_wait

__all__ = ["ASYM_ALGS", "HS_ALGS", "JwtKeysConfig", "JwtVerifier", "TokenRejected",
           "reason_of"]

HS_ALGS = frozenset({"HS256", "HS384", "HS512"})
ASYM_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                       "ES512", "ES256K", "EdDSA"})


@dataclass
class JwtKeysConfig:
    """How tokens are verified: the keys, the accepted algorithms and the claims checked."""

    #: HS* secret, from an environment variable or a file
    secret_env: str = ""
    secret_file: str = ""
    #: RS*/PS*/ES*/EdDSA public key (PEM)
    public_key_file: str = ""
    #: a JWKS document, from a file or an URL (refreshed every jwks_refresh, and on an
    #: unknown kid at most every jwks_min_refresh)
    jwks_file: str = ""
    jwks_url: str = ""
    jwks_refresh: Duration = Duration(300.0)
    jwks_min_refresh: Duration = Duration(30.0)
    jwks_timeout: Duration = Duration(5.0)
    #: accepted algorithms: required, never inferred from the token
    algorithms: list[str] = field(default_factory=list)
    issuer: str = ""
    audience: list[str] = field(default_factory=list)
    leeway: Duration = Duration(0.0)
    #: the claims that must be present (exp is required unless removed here)
    require: list[str] = field(default_factory=lambda: ["exp"])

    @property
    def enabled(self) -> bool:
        return bool(self.secret_env or self.secret_file or self.public_key_file
                    or self.jwks_file or self.jwks_url)

    def validate(self) -> list[str]:
        errors: list[str] = []
        if not self.enabled:
            if self.algorithms:
                errors.append("algorithms: set, but no key (secret_env, secret_file, "
                              "public_key_file, jwks_file or jwks_url)")
            return errors
        errors += validate_algorithms(self.algorithms)
        algs = set(self.algorithms)
        has_secret = bool(self.secret_env or self.secret_file)
        has_public = bool(self.public_key_file or self.jwks_file or self.jwks_url)
        if algs & HS_ALGS and not has_secret:
            errors.append("algorithms: HS* needs secret_env or secret_file")
        if algs & ASYM_ALGS and not has_public:
            errors.append("algorithms: RS*/PS*/ES* need public_key_file, jwks_file or jwks_url")
        if has_secret and not algs & HS_ALGS and algs:
            errors.append("secret_env: a secret is set but no HS* algorithm is accepted")
        if self.secret_env and not os.environ.get(self.secret_env):
            errors.append(f"secret_env: environment variable {self.secret_env} is not set or "
                          f"empty")
        for key in ("secret_file", "public_key_file", "jwks_file"):
            path = getattr(self, key)
            if path and not os.path.isfile(path):
                errors.append(f"{key}: no such file: {path}")
        if self.jwks_url:
            errors += validate_url("jwks_url", self.jwks_url)
        return errors


def validate_algorithms(algorithms: list[str], allowed: frozenset[str] = HS_ALGS | ASYM_ALGS
                        ) -> list[str]:
    """Problems of an ``algorithms`` list (required; ``none`` is never accepted)."""
    if not algorithms:
        return ["algorithms: required (e.g. [RS256] or [HS256]); never taken from the token"]
    return [f"algorithms[{i}]: unsupported algorithm {alg!r} (none is never accepted; "
            f"supported: {', '.join(sorted(allowed))})"
            for i, alg in enumerate(algorithms) if alg not in allowed]


def validate_url(key: str, url: str) -> list[str]:
    """Keys come from this URL: plain http only to this host (anyone on the path could
    swap them and mint tokens)."""
    if url.startswith("https://"):
        return []
    if url.startswith("http://"):
        host = (urlsplit(url).hostname or "").lower()
        if host in ("localhost", "127.0.0.1", "::1"):
            return []
        return [f"{key}: {url!r} is plain http to another host: use https (keys fetched "
                "over http can be replaced on the way)"]
    return [f"{key}: expected an https URL, got {url!r}"]


class TokenRejected(Exception):
    """A token that does not verify; ``reason`` is a short label, the message never holds
    the token."""

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
    """Verifies tokens against one ``JwtKeysConfig``; ``start`` fetches a JWKS URL (and keeps
    refreshing it), ``shutdown`` stops that."""

    def __init__(self, config: JwtKeysConfig, logger: logging.Logger) -> None:
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
        #: JWKS fetches that failed (the cached keys were kept)
        self.jwks_failures = 0
        self._load_static_keys()

    @property
    def key_count(self) -> int:
        return len(self._jwks) + len(self._jwks_anon) + (self._public_key is not None)

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
        task, self._refresh_task = self._refresh_task, None
        await cancel_and_wait(task)
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
            self.jwks_failures += 1
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
