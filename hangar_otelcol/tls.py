"""Client TLS shared by every exporter that opens TLS connections itself (OTLP/HTTP,
compliance syslog over TLS); the gRPC exporter uses grpc's own credentials."""

from __future__ import annotations

import ssl


def client_ssl_context(ca_file: str = "", cert_file: str = "", key_file: str = "",
                       insecure_skip_verify: bool = False) -> ssl.SSLContext:
    """Server verification on (``ca_file`` or the system's roots), TLS 1.2 or newer
    (RFC 5425 / RFC 9662 for syslog), an optional client certificate for mutual TLS."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file or None)
    if insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
