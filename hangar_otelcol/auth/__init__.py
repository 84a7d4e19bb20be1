"""Who sent a request: the contract between receivers and authenticator extensions.

A receiver with ``auth: {authenticator: <extension id>}`` (the Collector's configauth)
hands every request's ``Credentials`` (metadata, peer, verified client certificate) to the
extension before it reads the body's data into the pipeline. The extension answers with a
``Principal`` (``hangar_otelcol.pdata``), which the receiver binds to the request's
``Sender``: it stays with the data through batching and the persistent queue, and
processors read it (mcp_caller takes identity from it, tool_audit pairs only within it).

A refusal is an ``AuthError``: ``UNAUTHENTICATED`` / HTTP 401 with ``WWW-Authenticate``
(missing, malformed, unknown or expired credentials), or, with ``denied``, ``PERMISSION_DENIED``
/ 403 (proved, but not allowed). Its ``reason`` labels
``otelcol_receiver_auth_failures_total``; its message never contains the credential.

Extensions providing ``CAPABILITY`` implement ``Authenticator``: ``bearertokenauth``,
``oidc``, ``basicauth``, ``mtls`` (extensions/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from hangar_otelcol.pdata import Principal

__all__ = ["CAPABILITY", "PRINCIPAL_TYPES", "AuthError", "Authenticator", "Credentials",
           "PeerCertificate", "Principal"]

#: what an authenticator extension's factory ``provides``
CAPABILITY = "authenticator"
#: the kinds of principal a credential or a config may name (``Principal.type``)
PRINCIPAL_TYPES = ("human", "agent", "service")


@dataclass(frozen=True, slots=True)
class PeerCertificate:
    """The client certificate a TLS handshake verified (mTLS), as the receiver read it."""

    subject_cn: str = ""
    san_dns: tuple[str, ...] = ()
    san_uri: tuple[str, ...] = ()
    san_email: tuple[str, ...] = ()
    san_ip: tuple[str, ...] = ()
    #: the certificate's subject as an RFC 4514 string (``CN=ci-bot,O=Example``)
    subject: str = ""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request offers to prove who sent it."""

    transport: str  # "grpc" | "http"
    peer: str  # remote IP address
    #: HTTP headers / gRPC metadata, keys in lower case
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: the verified client certificate, when the listener requires one (tls.client_ca_file)
    certificate: PeerCertificate | None = None


class AuthError(Exception):
    """A request that does not prove an acceptable principal.

    ``reason``: a short label (``missing``, ``malformed``, ``unknown``, ``expired``,
    ``signature``, ``issuer``, ``audience``, ``algorithm``, ``not_allowed``, ...).
    ``challenge``: the ``WWW-Authenticate`` value for HTTP 401 (e.g. ``Bearer
    realm="hangar-otelcol"``). ``denied``: the credential was valid, the principal is not
    allowed (PERMISSION_DENIED / 403) rather than unproven (UNAUTHENTICATED / 401).
    The message is for the sender and the log: it must never contain the credential.
    """

    def __init__(self, message: str, *, reason: str, challenge: str = "",
                 denied: bool = False, busy: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.challenge = challenge
        self.denied = denied
        #: not decided: the authenticator is overloaded (RESOURCE_EXHAUSTED / 429, retry)
        self.busy = busy


@runtime_checkable
class Authenticator(Protocol):
    """An extension that proves who sent a request."""

    #: the ``WWW-Authenticate`` value sent with a 401 when no credential was offered
    challenge: str
    #: true if it needs the receiver to require and verify client certificates (mTLS)
    needs_client_certificate: bool

    async def authenticate(self, credentials: Credentials) -> Principal:
        """The principal the credentials prove; raises AuthError otherwise. Called once per
        request: cache what is expensive (a JWT's verification, a bcrypt hash) yourself."""
        ...
