"""TLS and mTLS on both protocols, with certificates made on the fly (tests.support.tls)."""

from __future__ import annotations

import ssl

import aiohttp
import grpc
import pytest

from hangar_otelcol.pdata import Signal
from tests.receivers.otlp.helpers import PB, VALID, receiver_config
from tests.support.tls import self_signed


@pytest.fixture
def pki(tmp_path):
    ca_cert, _, cert, key = self_signed(tmp_path, "ca")
    server_cert, server_key, _, _ = self_signed(tmp_path, "server", ca=(cert, key))
    client_cert, client_key, _, _ = self_signed(tmp_path, "client", ca=(cert, key))
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
        call = channel.unary_unary(Signal.TRACES.info.grpc_method)
        assert await call(VALID, timeout=10) == b""
    assert running.consumers[Signal.TRACES].items() == 4
