"""Factory of the ``mtls`` extension."""

from __future__ import annotations

from hangar_otelcol.auth.support import authenticator_factory
from hangar_otelcol.component import Stability
from hangar_otelcol.extensions.mtls.config import MtlsConfig
from hangar_otelcol.extensions.mtls.extension import MtlsAuthenticator

FACTORY = authenticator_factory(
    "mtls", MtlsConfig, MtlsAuthenticator, Stability.ALPHA,
    description="authenticator: the principal is the client certificate the listener "
                "verified (tls.client_ca_file): its URI / DNS / e-mail SAN or CN, optionally "
                "limited to allowed patterns")
