"""Factory of the ``bearertokenauth`` extension."""

from __future__ import annotations

from hangar_otelcol.auth import CAPABILITY
from hangar_otelcol.component import Stability, extension_factory
from hangar_otelcol.extensions.bearertokenauth.config import BearerTokenAuthConfig
from hangar_otelcol.extensions.bearertokenauth.extension import BearerTokenAuth

FACTORY = extension_factory(
    "bearertokenauth", BearerTokenAuthConfig, BearerTokenAuth, Stability.BETA,
    provides=frozenset({CAPABILITY}),
    description="authenticator: `authorization: Bearer <token>` against configured tokens "
                "(token, tokens, a file reloaded on change), compared in constant time; "
                "each token names its principal")
