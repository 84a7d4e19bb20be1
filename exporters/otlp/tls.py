"""Client TLS for both OTLP exporters, from the shared ``tls`` config block."""

from __future__ import annotations

import ssl

import grpc

from hangar_otelcol.tls import client_ssl_context

from .config import TLSConfig


def grpc_credentials(tls: TLSConfig) -> grpc.ChannelCredentials:
    """Server verification with ``ca_file`` (or the system roots), client cert for mTLS."""
    return grpc.ssl_channel_credentials(
        root_certificates=tls.read("ca_file"),
        private_key=tls.read("key_file"),
        certificate_chain=tls.read("cert_file"),
    )


def ssl_context(tls: TLSConfig) -> ssl.SSLContext:
    """An SSLContext for aiohttp: verified against ``ca_file`` or the system's roots."""
    return client_ssl_context(tls.ca_file, tls.cert_file, tls.key_file,
                              tls.insecure_skip_verify)
