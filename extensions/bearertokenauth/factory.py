"""Factory of the ``bearertokenauth`` extension."""

from __future__ import annotations

from hangar_otelcol.auth.support import authenticator_factory
from hangar_otelcol.component import Stability
from hangar_otelcol.extensions.bearertokenauth.config import BearerTokenAuthConfig
from hangar_otelcol.extensions.bearertokenauth.extension import BearerTokenAuth

FACTORY = authenticator_factory(
    "bearertokenauth", BearerTokenAuthConfig, BearerTokenAuth, Stability.BETA,
    description="authenticator: `authorization: Bearer <token>` against configured tokens "
                "(token, tokens, a file reloaded on change), compared in constant time; "
                "each token names its principal")
