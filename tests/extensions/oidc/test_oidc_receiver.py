"""The oidc authenticator through the real otlp receiver over gRPC and HTTP: a valid token's
principal reaches the consumer; no token is UNAUTHENTICATED / 401 with WWW-Authenticate; an
expired token is refused and counted by reason."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.extensions.oidc.factory import FACTORY
from hangar_otelcol.pdata import Principal, Signal
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.extensions.oidc.idp import AUDIENCE, Idp, public_jwk
from tests.receivers.otlp.helpers import PB, VALID, Running, grpc_export, post, receiver_config


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def idp(key) -> AsyncIterator[Idp]:
    server = Idp()
    server.keys = [public_jwk(key, "k1")]
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def running(start_receiver, idp) -> AsyncIterator[Running]:
    config = build(FACTORY.config_class, {"issuer_url": idp.issuer, "audience": AUDIENCE,
                                          "algorithms": ["RS256"]})
    ext = FACTORY.create(make_settings(Kind.EXTENSION, "oidc", Telemetry()), config)
    await ext.start(StandaloneHost())
    auth = {"authenticator": "oidc"}
    yield await start_receiver(
        receiver_config({"protocols": {"grpc": {"auth": auth}, "http": {"auth": auth}}}),
        host=StandaloneHost(extensions={"oidc": ext}))
    await ext.shutdown()


def principals(running: Running) -> list[Principal | None]:
    return [part.sender.principal for batch in running.consumers[Signal.TRACES].batches
            for part in batch.parts]


def expected(idp: Idp, subject: str) -> Principal:
    return Principal(authenticator="oidc", subject=subject, type="human",
                     roles=("admins", "mcp-users"), attributes={"issuer": idp.issuer})


async def test_a_valid_token_is_the_principal_over_grpc_and_http(running, idp, key) -> None:
    token = idp.token(key, sub="alice")
    await grpc_export(running, VALID, metadata=(("authorization", f"Bearer {token}"),))
    async with aiohttp.ClientSession() as session:
        status, _, _ = await post(session, running.url(Signal.TRACES), VALID,
                                  {**PB, "Authorization": f"Bearer {idp.token(key, sub='bob')}"})
    assert status == 200
    assert principals(running) == [expected(idp, "alice"), expected(idp, "bob")]


async def test_no_token_is_unauthenticated_with_a_challenge(running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, VALID)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    async with aiohttp.ClientSession() as session:
        status, headers, _ = await post(session, running.url(Signal.TRACES), VALID, PB)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="hangar-otelcol"'
    assert running.consumers[Signal.TRACES].items() == 0
    for transport in ("grpc", "http"):
        assert running.metric("otelcol_receiver_auth_failures_total", "otlp", transport,
                              "missing") == 1


async def test_an_expired_token_is_refused_and_counted(running, idp, key) -> None:
    now = int(time.time())
    token = idp.token(key, iat=now - 600, exp=now - 60)
    metadata: Any = (("authorization", f"Bearer {token}"),)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, VALID, metadata=metadata)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert token not in (info.value.details() or "")
    async with aiohttp.ClientSession() as session:
        status, headers, body = await post(session, running.url(Signal.TRACES), VALID,
                                           {**PB, "Authorization": f"Bearer {token}"})
    assert status == 401
    assert headers["WWW-Authenticate"] == \
        'Bearer realm="hangar-otelcol", error="invalid_token"'
    assert token.encode() not in body
    assert running.consumers[Signal.TRACES].items() == 0
    for transport in ("grpc", "http"):
        assert running.metric("otelcol_receiver_auth_failures_total", "otlp", transport,
                              "expired") == 1
