"""Factory of the ``oidc`` extension."""

from __future__ import annotations

from hangar_otelcol.auth.support import authenticator_factory
from hangar_otelcol.component import Stability
from hangar_otelcol.extensions.oidc.config import OidcConfig
from hangar_otelcol.extensions.oidc.extension import OidcAuthenticator

FACTORY = authenticator_factory(
    "oidc", OidcConfig, OidcAuthenticator, Stability.ALPHA,
    description="authenticator: OpenID Connect bearer tokens (JWTs) verified with the "
                "issuer's JWKS (discovered from issuer_url, or jwks_url / jwks_file); the "
                "principal is the username claim, its roles the groups claim")
