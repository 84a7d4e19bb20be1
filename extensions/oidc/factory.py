"""Factory of the ``oidc`` extension."""

from __future__ import annotations

from hangar_otelcol.auth import CAPABILITY
from hangar_otelcol.component import Stability, extension_factory
from hangar_otelcol.extensions.oidc.config import OidcConfig
from hangar_otelcol.extensions.oidc.extension import OidcAuthenticator

FACTORY = extension_factory(
    "oidc", OidcConfig, OidcAuthenticator, Stability.ALPHA,
    provides=frozenset({CAPABILITY}),
    description="authenticator: OpenID Connect bearer tokens (JWTs) verified with the "
                "issuer's JWKS (discovered from issuer_url, or jwks_url / jwks_file); the "
                "principal is the username claim, its roles the groups claim")
