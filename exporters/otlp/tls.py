"""Client TLS for both OTLP exporters, from the shared ``tls`` config block."""

from __future__ import annotations

import ssl

import grpc

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
    ctx = ssl.create_default_context(cafile=tls.ca_file or None)
    if tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
