"""The mtls extension: the verified client certificate is the principal."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from hangar_otelcol.auth import AuthError, Credentials, PeerCertificate
from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.extensions.mtls.config import MtlsConfig
from hangar_otelcol.pdata import Principal


class MtlsAuthenticator:
    #: no HTTP authentication scheme asks for a client certificate; the TLS handshake does
    challenge = ""
    needs_client_certificate = True

    def __init__(self, settings: CreateSettings, config: MtlsConfig) -> None:
        self.settings = settings
        self.config = config
        self._refused = settings.telemetry.counter(
            "otelcol_extension_mtls_refused_total",
            "Requests the mtls authenticator refused, by reason (missing, no_identity, "
            "not_allowed)", ("reason",))

    async def start(self, host: Host) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _refuse(self, reason: str, message: str, denied: bool = False) -> AuthError:
        self._refused.inc(reason)
        return AuthError(message, reason=reason, denied=denied)

    async def authenticate(self, credentials: Credentials) -> Principal:
        cert = credentials.certificate
        if cert is None:
            raise self._refuse("missing", "no verified client certificate")
        names = list(_names(cert, self.config.principal_from))
        if not names:
            raise self._refuse(
                "no_identity", f"the client certificate ({cert.subject}) has none of "
                f"{', '.join(self.config.principal_from)}", denied=True)
        allowed = self.config.allowed
        if allowed:
            chosen = next(((source, name) for source, name in names
                           if any(fnmatch.fnmatchcase(name, p) for p in allowed)), None)
            if chosen is None:
                raise self._refuse(
                    "not_allowed", f"client certificate {names[0][1]!r} is not allowed",
                    denied=True)
        else:
            chosen = names[0]
        source, name = chosen
        mapped = self.config.principals.get(name)
        return Principal(
            authenticator=str(self.settings.id), subject=name,
            type=(mapped.type if mapped is not None and mapped.type
                  else self.config.default_type),
            roles=tuple(mapped.roles) if mapped is not None else (),
            attributes={"certificate.subject": cert.subject, "certificate.source": source})


def _names(cert: PeerCertificate, sources: list[str]) -> Iterator[tuple[str, str]]:
    """(source, name) of the certificate, in order of preference."""
    for source in sources:
        values = (cert.subject_cn,) if source == "cn" else getattr(cert, source)
        for value in values:
            if value:
                yield source, value
