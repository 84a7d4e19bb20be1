"""Factory of the ``mtls`` extension."""

from __future__ import annotations

from hangar_otelcol.auth import CAPABILITY
from hangar_otelcol.component import Stability, extension_factory
from hangar_otelcol.extensions.mtls.config import MtlsConfig
from hangar_otelcol.extensions.mtls.extension import MtlsAuthenticator

FACTORY = extension_factory(
    "mtls", MtlsConfig, MtlsAuthenticator, Stability.ALPHA,
    provides=frozenset({CAPABILITY}),
    description="authenticator: the principal is the client certificate the listener "
                "verified (tls.client_ca_file): its URI / DNS / e-mail SAN or CN, optionally "
                "limited to allowed patterns")
