"""Who may send to one OTLP listener: its ``auth`` config, applied before the data is read
into the pipeline (hangar_otelcol/auth has the contract with the authenticators).

``RequestAuth.check`` turns a request's credentials into the ``Principal`` bound to its
``Sender``, or into the answer that refuses it: UNAUTHENTICATED / 401 with
``WWW-Authenticate`` (no or a bad credential), PERMISSION_DENIED / 403 (proved, but not in
``allow`` for this signal). Every refusal is counted by reason in
``otelcol_receiver_auth_failures_total``.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping
from typing import Any

import grpc

from hangar_otelcol.auth import Authenticator, AuthError, Credentials, PeerCertificate
from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.pdata import Principal, Signal
from hangar_otelcol.receivers.otlp.config import AuthConfig
from hangar_otelcol.receivers.otlp.status import Outcome


class RequestAuth:
    """The authenticator of one listener and who it lets send which signal."""

    def __init__(self, settings: CreateSettings, config: AuthConfig, transport: str,
                 client_certificates: bool) -> None:
        self.settings = settings
        self.config = config
        self.transport = transport
        self._client_certificates = client_certificates
        self._authenticator: Authenticator | None = None
        self._allow = {Signal(signal): tuple(patterns)
                       for signal, patterns in config.allow.items()}
        self._failures = settings.telemetry.counter(
            "otelcol_receiver_auth_failures_total",
            "Requests refused by authentication or authorization, by transport and reason",
            ("transport", "reason"))

    def start(self, host: Host) -> None:
        ext = host.extension(self.config.authenticator)
        if not isinstance(ext, Authenticator):
            raise ValueError(f"auth.authenticator: extension {self.config.authenticator!r} "
                             "is no authenticator")
        if ext.needs_client_certificate and not self._client_certificates:
            raise ValueError(f"auth.authenticator: {self.config.authenticator} reads the "
                             "client certificate; set tls.client_ca_file on this listener")
        self._authenticator = ext

    async def check(self, signal: Signal, credentials: Credentials) -> Principal | Outcome:
        authenticator = self._authenticator
        if authenticator is None:
            return self._refuse(AuthError("the receiver is not started", reason="not_started"))
        try:
            principal = await authenticator.authenticate(credentials)
        except AuthError as exc:
            if not exc.challenge and not exc.denied:
                exc.challenge = authenticator.challenge
            return self._refuse(exc)
        patterns = self._allow.get(signal)
        if patterns is not None and not _allowed(principal, patterns):
            return self._refuse(AuthError(
                f"{principal.subject!r} may not send {signal.value} to this receiver",
                reason="not_allowed", denied=True))
        return principal

    def _refuse(self, exc: AuthError) -> Outcome:
        self._failures.inc(self.transport, exc.reason)
        self.settings.problems.warn(
            "auth", "otlp receiver %s: %s request refused (%s): %s", self.settings.id,
            self.transport, exc.reason, exc, detail=exc.reason)
        if exc.busy:
            return Outcome(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), retry_after=1.0)
        if exc.denied:
            return Outcome(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        return Outcome(grpc.StatusCode.UNAUTHENTICATED, str(exc), challenge=exc.challenge)


def _allowed(principal: Principal, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(principal.subject, p)
               or fnmatch.fnmatchcase(principal.name, p) for p in patterns)


# --- the client certificate, as each server library reports it -------------------------

def certificate_from_peercert(peercert: Mapping[str, Any] | None) -> PeerCertificate | None:
    """``ssl.SSLSocket.getpeercert()`` of a verified client (aiohttp's ``peercert``)."""
    if not peercert:
        return None
    subject = [(k, v) for rdn in peercert.get("subject", ()) for k, v in rdn]
    sans: dict[str, list[str]] = {}
    for kind, value in peercert.get("subjectAltName", ()):
        sans.setdefault(kind, []).append(value)
    return PeerCertificate(
        subject_cn=next((v for k, v in subject if k == "commonName"), ""),
        san_dns=tuple(sans.get("DNS", ())), san_uri=tuple(sans.get("URI", ())),
        san_email=tuple(sans.get("email", ())), san_ip=tuple(sans.get("IP Address", ())),
        subject=",".join(f"{_RDN.get(k, k)}={v}" for k, v in reversed(subject)))


_RDN = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
        "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}


@functools.lru_cache(maxsize=1024)
def certificate_from_pem(pem: bytes) -> PeerCertificate:
    """grpc's auth context gives the verified client certificate as PEM; parsed once per
    certificate (cryptography, a dependency of pyjwt[crypto])."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(pem)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    return PeerCertificate(
        subject_cn=str(cns[0].value) if cns else "",
        san_dns=tuple(san.get_values_for_type(x509.DNSName)),
        san_uri=tuple(san.get_values_for_type(x509.UniformResourceIdentifier)),
        san_email=tuple(san.get_values_for_type(x509.RFC822Name)),
        san_ip=tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
        subject=cert.subject.rfc4514_string())


def certificate_from_grpc(context: Any) -> PeerCertificate | None:
    pems = (context.auth_context() or {}).get("x509_pem_cert")
    return certificate_from_pem(pems[0]) if pems else None
