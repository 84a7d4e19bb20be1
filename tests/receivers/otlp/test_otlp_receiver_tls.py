"""TLS and mTLS on both protocols, with certificates made on the fly (cryptography)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import aiohttp
import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hangar_otelcol.pdata import Signal
from hangar_otelcol.receivers.otlp.grpc_server import SERVICES
from tests.receivers.otlp.helpers import PB, VALID, receiver_config


def make_cert(directory: Path, name: str, issuer: tuple | None = None) -> tuple[Path, Path, tuple]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = (subject, key) if issuer is None else issuer
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), True))
    if issuer is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, (subject, key)


@pytest.fixture
def pki(tmp_path):
    ca_cert, _, ca = make_cert(tmp_path, "ca")
    server_cert, server_key, _ = make_cert(tmp_path, "server", ca)
    client_cert, client_key, _ = make_cert(tmp_path, "client", ca)
    return {"ca": ca_cert, "server": (server_cert, server_key),
            "client": (client_cert, client_key)}


async def test_mtls_on_grpc_and_http(start_receiver, pki):
    tls = {"cert_file": str(pki["server"][0]), "key_file": str(pki["server"][1]),
           "client_ca_file": str(pki["ca"])}
    running = await start_receiver(receiver_config({"protocols": {"grpc": {"tls": tls},
                                                                  "http": {"tls": tls}}}))
    https = running.http_base.replace("http://", "https://") + "/v1/traces"
    client_ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    client_ctx.load_cert_chain(*map(str, pki["client"]))
    async with aiohttp.ClientSession() as session:
        async with session.post(https, data=VALID, headers=PB, ssl=client_ctx) as resp:
            assert resp.status == 200
        anonymous = ssl.create_default_context(cafile=str(pki["ca"]))
        with pytest.raises(aiohttp.ClientError):
            async with session.post(https, data=VALID, headers=PB, ssl=anonymous) as resp:
                await resp.read()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki["ca"].read_bytes(), private_key=pki["client"][1].read_bytes(),
        certificate_chain=pki["client"][0].read_bytes())
    async with grpc.aio.secure_channel(running.grpc_target, credentials) as channel:
        call = channel.unary_unary(f"/{SERVICES[Signal.TRACES]}/Export")
        assert await call(VALID, timeout=10) == b""
    assert running.consumers[Signal.TRACES].items() == 4
