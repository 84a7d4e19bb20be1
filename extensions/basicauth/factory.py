"""Factory of the ``basicauth`` extension."""

from __future__ import annotations

from hangar_otelcol.auth.support import authenticator_factory
from hangar_otelcol.component import Stability
from hangar_otelcol.extensions.basicauth.config import BasicAuthConfig
from hangar_otelcol.extensions.basicauth.extension import BasicAuth

FACTORY = authenticator_factory(
    "basicauth", BasicAuthConfig, BasicAuth, Stability.BETA,
    description="authenticator: `authorization: Basic ...` against htpasswd users (bcrypt "
                "or {SHA}; a file reloaded on change); the principal is the user")
