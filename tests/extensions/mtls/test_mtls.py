"""The mtls authenticator through the real otlp receiver over gRPC and HTTPS: a CA and
client certificates made on the fly (tests.support.tls); the principal is the certificate's
URI SAN or CN, a verified certificate outside ``allowed`` is PERMISSION_DENIED / 403."""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp
import grpc
import pytest
from cryptography import x509

from hangar_otelcol.auth import AuthError, Credentials, PeerCertificate
from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.extensions.mtls.factory import FACTORY
from hangar_otelcol.pdata import Principal, Signal
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.receivers.otlp.helpers import PB, VALID, Running, receiver_config
from tests.support.tls import self_signed

ALLOWED = ["spiffe://example.org/*", "alice"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("pki")
    ca_cert, _, cert, key = self_signed(d, "ca")
    ca = (cert, key)
    server = self_signed(d, "server", ca=ca)
    uri = x509.UniformResourceIdentifier
    clients = {
        # a workload identity: URI SAN (SPIFFE id), CN and a DNS SAN too
        "ci-bot": self_signed(d, "ci-bot", ca=ca, sans=[
            x509.DNSName("ci.example.org"), uri("spiffe://example.org/ci-bot")]),
        # only a subject CN
        "alice": self_signed(d, "alice", ca=ca, sans=[]),
        # a certificate the CA signed, for a name outside ``allowed``
        "intruder": self_signed(d, "intruder", ca=ca, sans=[uri("spiffe://evil.example/x")]),
    }
    return {"ca": ca_cert, "server": server[:2],
            "clients": {name: c[:2] for name, c in clients.items()}}


def mtls_extension(raw: dict[str, Any] | None = None, telemetry: Telemetry | None = None
                   ) -> Any:
    config = build(FACTORY.config_class, raw or {})
    return FACTORY.create(make_settings(Kind.EXTENSION, "mtls", telemetry), config)


def tls_config(pki: dict[str, Any], client_ca: bool = True) -> dict[str, str]:
    tls = {"cert_file": str(pki["server"][0]), "key_file": str(pki["server"][1])}
    if client_ca:
        tls["client_ca_file"] = str(pki["ca"])
    return tls


async def start_mtls_receiver(start_receiver, pki) -> Running:
    ext = mtls_extension({"allowed": ALLOWED, "principals": {
        "spiffe://example.org/ci-bot": {"type": "agent", "roles": ["deploy"]}}})
    auth = {"authenticator": "mtls"}
    tls = tls_config(pki)
    return await start_receiver(
        receiver_config({"protocols": {"grpc": {"tls": tls, "auth": auth},
                                       "http": {"tls": tls, "auth": auth}}}),
        host=StandaloneHost(extensions={"mtls": ext}))


def grpc_credentials(pki, client: str) -> grpc.ChannelCredentials:
    cert, key = pki["clients"][client]
    return grpc.ssl_channel_credentials(root_certificates=pki["ca"].read_bytes(),
                                        private_key=key.read_bytes(),
                                        certificate_chain=cert.read_bytes())


def ssl_context(pki, client: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    cert, key = pki["clients"][client]
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


async def grpc_send(running: Running, pki, client: str) -> None:
    async with grpc.aio.secure_channel(running.grpc_target,
                                       grpc_credentials(pki, client)) as channel:
        await channel.unary_unary(Signal.TRACES.info.grpc_method)(VALID, timeout=10)


async def https_send(running: Running, pki, client: str) -> tuple[int, bytes]:
    url = running.http_base.replace("http://", "https://") + "/v1/traces"
    async with aiohttp.ClientSession() as session, \
            session.post(url, data=VALID, headers=PB, ssl=ssl_context(pki, client)) as resp:
        return resp.status, await resp.read()


def principals(running: Running) -> list[Principal | None]:
    return [part.sender.principal for batch in running.consumers[Signal.TRACES].batches
            for part in batch.parts]


async def test_the_uri_san_is_the_principal_over_grpc(start_receiver, pki) -> None:
    running = await start_mtls_receiver(start_receiver, pki)
    await grpc_send(running, pki, "ci-bot")
    (principal,) = principals(running)
    assert principal == Principal(
        authenticator="mtls", subject="spiffe://example.org/ci-bot", type="agent",
        roles=("deploy",), attributes={"certificate.subject": "CN=ci-bot",
                                       "certificate.source": "san_uri"})


async def test_the_cn_is_the_principal_over_https(start_receiver, pki) -> None:
    running = await start_mtls_receiver(start_receiver, pki)
    status, _ = await https_send(running, pki, "alice")
    assert status == 200
    (principal,) = principals(running)
    assert principal is not None
    assert (principal.subject, principal.type, principal.roles) == ("alice", "service", ())
    assert principal.attributes["certificate.source"] == "cn"


async def test_a_certificate_not_allowed_is_permission_denied(start_receiver, pki) -> None:
    running = await start_mtls_receiver(start_receiver, pki)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_send(running, pki, "intruder")
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "spiffe://evil.example/x" in (info.value.details() or "")
    status, _ = await https_send(running, pki, "intruder")
    assert status == 403
    assert running.consumers[Signal.TRACES].items() == 0
    for transport in ("grpc", "http"):
        assert running.metric("otelcol_receiver_auth_failures_total", "otlp", transport,
                              "not_allowed") == 1


async def test_mtls_without_client_ca_file_is_a_start_error(start_receiver, pki) -> None:
    auth = {"authenticator": "mtls"}
    config = receiver_config({"protocols": {"grpc": {"tls": tls_config(pki, client_ca=False),
                                                     "auth": auth}}}, http=False)
    with pytest.raises(ValueError, match=r"protocols\.grpc\.auth\.authenticator: .*"
                                         r"client_ca_file"):
        await start_receiver(config, host=StandaloneHost(extensions={"mtls": mtls_extension()}))


def cert(**fields: Any) -> Credentials:
    return Credentials("grpc", "127.0.0.1", {}, PeerCertificate(**fields))


@pytest.mark.parametrize(("raw", "fields", "subject"), [
    ({}, {"subject_cn": "bot", "san_dns": ("bot.example",), "san_uri": ("spiffe://a/b",)},
     "spiffe://a/b"),
    ({"principal_from": ["san_dns", "cn"]},
     {"subject_cn": "bot", "san_dns": ("bot.example",), "san_uri": ("spiffe://a/b",)},
     "bot.example"),
    ({"principal_from": ["cn"]}, {"subject_cn": "bot", "san_uri": ("spiffe://a/b",)}, "bot"),
    ({"principal_from": ["san_email", "cn"]},
     {"subject_cn": "bot", "san_email": ("bot@example.org",)}, "bot@example.org"),
    # with ``allowed``, the first name in principal_from order that is allowed
    ({"allowed": ["*.example"]},
     {"san_dns": ("bot.example",), "san_uri": ("spiffe://a/b",)}, "bot.example"),
])
async def test_principal_from_is_an_order_of_preference(raw, fields, subject) -> None:
    principal = await mtls_extension(raw).authenticate(cert(**fields))
    assert principal.subject == subject


async def test_refusals_and_their_reasons() -> None:
    telemetry = Telemetry()
    ext = mtls_extension({"principal_from": ["san_uri"], "allowed": ["spiffe://a/*"]},
                         telemetry)
    with pytest.raises(AuthError) as info:
        await ext.authenticate(Credentials("http", "127.0.0.1", {}))
    assert (info.value.reason, info.value.denied) == ("missing", False)
    with pytest.raises(AuthError) as info:
        await ext.authenticate(cert(subject_cn="bot"))  # no URI SAN
    assert (info.value.reason, info.value.denied) == ("no_identity", True)
    with pytest.raises(AuthError) as info:
        await ext.authenticate(cert(san_uri=("spiffe://b/c",)))
    assert (info.value.reason, info.value.denied) == ("not_allowed", True)
    for reason in ("missing", "no_identity", "not_allowed"):
        assert ext._refused.get(reason) == 1


@pytest.mark.parametrize(("raw", "problem"), [
    ({"principal_from": ["subject"]}, "principal_from[0]: must be one of san_uri, san_dns"),
    ({"principal_from": []}, "principal_from: must name at least one"),
    ({"principal_from": ["cn", "cn"]}, "principal_from: lists a source twice"),
    ({"principals": {"x": {"type": "robot"}}}, "principals.x.type: must be one of"),
    ({"default_type": "robot"}, "default_type: must be one of"),
])
def test_config_problems_name_the_key(raw, problem) -> None:
    with pytest.raises(ConfigError) as info:
        build(FACTORY.config_class, raw)
    assert any(problem in e for e in info.value.errors), info.value.errors

