"""The oidc extension: ``Authorization: Bearer <JWT>`` verified against the issuer's JWKS
(hangar_otelcol.auth.jwt), the principal taken from its claims."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import aiohttp

from hangar_otelcol.auth import AuthError, Credentials
from hangar_otelcol.auth.jwt import JwtKeysConfig, JwtVerifier, TokenRejected
from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.extensions.oidc.config import OidcConfig
from hangar_otelcol.pdata import Principal

REALM = 'Bearer realm="hangar-otelcol"'
#: RFC 6750 section 3.1: a token was offered and is not acceptable
INVALID_TOKEN = f'{REALM}, error="invalid_token"'
_CACHE_SIZE = 4096
#: a verified token is trusted again without a signature check for at most this long
_CACHE_SECONDS = 60.0


class OidcAuthenticator:
    challenge = REALM
    needs_client_certificate = False

    def __init__(self, settings: CreateSettings, config: OidcConfig) -> None:
        self.settings = settings
        self.config = config
        self._verifier: JwtVerifier | None = None
        #: token -> (principal, until): a token is verified once, not on every request
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._refused = settings.telemetry.counter(
            "otelcol_extension_oidc_refused_total",
            "Requests the oidc authenticator refused, by reason (missing, malformed, "
            "expired, audience, issuer, signature, algorithm, unknown_key, ...)", ("reason",))
        settings.telemetry.gauge(
            "otelcol_extension_oidc_keys", "Verification keys known (the JWKS cache)",
            lambda: float(self._verifier.key_count if self._verifier is not None else 0))

    @property
    def verifier(self) -> JwtVerifier | None:
        return self._verifier

    async def start(self, host: Host) -> None:
        c = self.config
        jwks_url = c.jwks_url
        if not (jwks_url or c.jwks_file):
            jwks_url = await self._discover()
        keys = JwtKeysConfig(
            jwks_file=c.jwks_file, jwks_url=jwks_url, jwks_refresh=c.jwks_refresh,
            jwks_min_refresh=c.jwks_min_refresh, jwks_timeout=c.jwks_timeout,
            algorithms=list(c.algorithms), issuer=c.issuer_url,
            audience=[a for a in c.audiences if a], leeway=c.leeway,
            require=["exp", *(claim for claim in c.required_claims if claim != "exp")])
        self._verifier = JwtVerifier(keys, self.settings.logger)
        await self._verifier.start()

    async def _discover(self) -> str:
        """The issuer's jwks_uri from its OpenID provider configuration; any failure fails
        the start (as the Collector's oidc extension does)."""
        issuer = self.config.issuer_url
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        timeout = aiohttp.ClientTimeout(total=float(self.config.jwks_timeout))
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(url) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                doc = await resp.json(content_type=None)
        except Exception as exc:
            raise ValueError(f"issuer_url: cannot read the OpenID configuration of {issuer} "
                             f"({url}): {type(exc).__name__}: {exc or 'timed out'}") from None
        if not isinstance(doc, dict):
            raise ValueError(f"issuer_url: {url} is not an OpenID configuration (a JSON "
                             "object)")
        if doc.get("issuer") != issuer:
            raise ValueError(f"issuer_url: {url} names the issuer {doc.get('issuer')!r}, "
                             f"not {issuer!r} (they must be identical)")
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("http://", "https://")):
            raise ValueError(f"issuer_url: {url} has no jwks_uri (an http(s) URL)")
        self.settings.logger.info("oidc %s: issuer %s publishes its keys at %s",
                                  self.settings.id, issuer, jwks_uri)
        return jwks_uri

    async def shutdown(self) -> None:
        if self._verifier is not None:
            await self._verifier.shutdown()
        self._cache.clear()

    def _refuse(self, reason: str, message: str, challenge: str = "") -> AuthError:
        self._refused.inc(reason)
        return AuthError(message, reason=reason, challenge=challenge)

    async def authenticate(self, credentials: Credentials) -> Principal:
        header = self.config.header
        value = credentials.metadata.get(header, "").strip()
        if not value:
            raise self._refuse("missing", f"no bearer token (the {header} header)")
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise self._refuse("malformed", f"{header}: expected 'Bearer <token>'")
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        verifier = self._verifier
        if verifier is None:
            raise self._refuse("not_started", "the oidc authenticator is not started")
        try:
            claims = await verifier.verify(token)
        except TokenRejected as exc:
            raise self._refuse(exc.reason, f"bearer token rejected ({exc.reason}): {exc}",
                               INVALID_TOKEN) from None
        principal = self._principal(claims)
        exp = claims.get("exp")
        until = now + _CACHE_SECONDS
        if isinstance(exp, (int, float)):
            until = min(until, float(exp) + float(self.config.leeway))
        self._cache[token] = (principal, until)
        self._cache.move_to_end(token)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return principal

    def _principal(self, claims: dict[str, Any]) -> Principal:
        c = self.config
        subject = claims.get(c.username_claim)
        if isinstance(subject, (int, float)) and not isinstance(subject, bool):
            subject = str(subject)
        if not isinstance(subject, str) or not subject:
            raise self._refuse("missing_claim", f"the token has no {c.username_claim} claim "
                               "(username_claim)", INVALID_TOKEN)
        type_ = claims.get(c.type_claim) if c.type_claim else None
        attributes = {"issuer": claims["iss"]} if isinstance(claims.get("iss"), str) else {}
        return Principal(
            authenticator=str(self.settings.id), subject=subject,
            type=type_ if isinstance(type_, str) and type_ else c.default_type,
            roles=_roles(claims.get(c.groups_claim) if c.groups_claim else None),
            attributes=attributes)


def _roles(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, (str, int)) and str(v))
    return ()
