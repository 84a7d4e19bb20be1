"""Certificates for 127.0.0.1 / localhost, made on the fly (cryptography)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(directory: Path, name: str = "server",
                ca: tuple[Any, Any] | None = None, *, common_name: str | None = None,
                sans: list[x509.GeneralName] | None = None) -> tuple[Path, Path, Any, Any]:
    """A certificate for 127.0.0.1 / localhost, signed by ``ca`` (certificate, key) if given,
    else by itself (then it is a CA too). Writes ``<name>.crt`` and ``<name>.key`` (PEM).
    ``common_name`` (default: ``name``; empty: no subject CN) and ``sans`` (default: DNS
    localhost and IP 127.0.0.1; empty: no SAN extension) make client certificates.

    Returns (cert path, key path, certificate, private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cn = name if common_name is None else common_name
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else
                        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hangar-otelcol tests")])
    if sans is None:
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    issuer_cert, issuer_key = ca if ca else (None, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
        # key identifiers: urllib3 2 (requests, the SDK's HTTP exporter) verifies strictly
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert, key
