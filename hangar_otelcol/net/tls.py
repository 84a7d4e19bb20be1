"""TLS settings of every listener (``TLSServerConfig``) and every client
(``TLSClientConfig``), with the Collector's configtls keys, and the SSLContexts and gRPC
credentials made from them."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Literal

import grpc

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def _file_problems(config: object, keys: tuple[str, ...]) -> list[str]:
    errors = []
    for key in keys:
        path = getattr(config, key)
        if path and not os.access(path, os.R_OK):
            reason = "does not exist" if not os.path.exists(path) else "is not readable"
            errors.append(f"{key}: {path} {reason}")
        elif path and not os.path.isfile(path):
            errors.append(f"{key}: {path} is not a file")
    return errors


def read_file(path: str) -> bytes | None:
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


@dataclass
class TLSServerConfig:
    """``tls`` of a listener: on when ``cert_file`` is set."""

    cert_file: str = ""
    key_file: str = ""
    #: when set, clients must present a certificate signed by this CA (mutual TLS)
    client_ca_file: str = ""
    min_version: Literal["1.2", "1.3"] = "1.2"

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file)

    def validate(self) -> list[str]:
        errors = _file_problems(self, ("cert_file", "key_file", "client_ca_file"))
        if bool(self.cert_file) != bool(self.key_file):
            errors.append("cert_file: cert_file and key_file must be set together")
        if self.client_ca_file and not self.cert_file:
            errors.append("client_ca_file: needs cert_file and key_file (mTLS is TLS first)")
        return errors

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = _VERSIONS[self.min_version]
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if self.client_ca_file:
            ctx.load_verify_locations(self.client_ca_file)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def grpc_credentials(self) -> grpc.ServerCredentials:
        ca = read_file(self.client_ca_file)
        key, cert = read_file(self.key_file), read_file(self.cert_file)
        assert key is not None and cert is not None  # validated: set together
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=ca is not None)


@dataclass
class TLSClientConfig:
    """``tls`` of a client: server verification on unless told otherwise."""

    #: gRPC: plain text instead of TLS (HTTP clients follow the URL scheme)
    insecure: bool = False
    #: accept any server certificate (testing only)
    insecure_skip_verify: bool = False
    #: CA bundle to verify the server with (default: the system's roots)
    ca_file: str = ""
    #: client certificate and key, for mutual TLS
    cert_file: str = ""
    key_file: str = ""
    #: the name to verify the server certificate against, instead of the endpoint's host
    server_name_override: str = ""
    min_version: Literal["1.2", "1.3"] = "1.2"

    __config_aliases__ = {"server_name": "server_name_override"}

    def validate(self) -> list[str]:
        errors = _file_problems(self, ("ca_file", "cert_file", "key_file"))
        if bool(self.cert_file) != bool(self.key_file):
            errors.append("cert_file: cert_file and key_file must be set together")
        return errors

    def ssl_context(self) -> ssl.SSLContext:
        """Server verification with ``ca_file`` (or the system's roots), TLS 1.2 or newer
        (RFC 5425 / RFC 9662 for syslog), an optional client certificate for mutual TLS."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file or None)
        ctx.minimum_version = _VERSIONS[self.min_version]
        if self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file or None)
        if self.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=read_file(self.ca_file), private_key=read_file(self.key_file),
            certificate_chain=read_file(self.cert_file))
