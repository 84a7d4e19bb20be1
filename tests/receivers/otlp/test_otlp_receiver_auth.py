"""The otlp receiver with real authenticator extensions (bearertokenauth, basicauth), over
gRPC and HTTP: no or a wrong credential is UNAUTHENTICATED / 401 with the challenge and
reaches no consumer, counted by reason; a valid one is accepted and its Principal travels
with the data; ``auth.allow`` turns a principal away from a signal (PERMISSION_DENIED / 403);
the OpenTelemetry SDK's exporters authenticate with ``headers``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import aiohttp
import bcrypt
import grpc
import pytest
from multidict import CIMultiDict
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from hangar_otelcol.component import Kind
from hangar_otelcol.config.loader import load
from hangar_otelcol.config.model import validate
from hangar_otelcol.config.types import build
from hangar_otelcol.extensions.basicauth.factory import FACTORY as BASIC
from hangar_otelcol.extensions.bearertokenauth.factory import FACTORY as BEARER
from hangar_otelcol.pdata import Principal, Signal
from hangar_otelcol.registry import default_registry
from hangar_otelcol.service import Service
from hangar_otelcol.testing import StandaloneHost, free_port, make_settings
from tests.receivers.otlp.helpers import PB, VALID, grpc_export, post, receiver_config
from tests.support.sdk_data import make_spans

PROD_TOKEN = "prod-0123456789abcdef"
OTHER_TOKEN = "other-fedcba9876543210"
PROD = Principal("bearertokenauth", "hangar-prod", "service", ("forwarder",))
CHALLENGE = 'Bearer realm="hangar-otelcol"'
FAILURES = "otelcol_receiver_auth_failures_total"


def logs_request() -> bytes:
    req = ExportLogsServiceRequest()
    req.resource_logs.add().scope_logs.add().log_records.add().body.string_value = "hello"
    return req.SerializeToString()


async def bearer() -> Any:
    config = build(BEARER.config_class, {"tokens": [
        {"token": PROD_TOKEN, "principal": "hangar-prod", "roles": ["forwarder"]},
        {"token": OTHER_TOKEN, "principal": "other", "type": "agent"}]})
    ext = BEARER.create(make_settings(Kind.EXTENSION, "bearertokenauth"), config)
    await ext.start(StandaloneHost())
    return ext


def auth_config(authenticator: str = "bearertokenauth", **auth: Any) -> Any:
    settings = {"auth": {"authenticator": authenticator, **auth}}
    return receiver_config({"protocols": {"grpc": settings, "http": settings}})


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def running(start_receiver):
    host = StandaloneHost(extensions={"bearertokenauth": await bearer()})
    return await start_receiver(auth_config(), host=host)


def received(running, signal: Signal = Signal.TRACES) -> list[Any]:
    return [part for b in running.consumers[signal].batches for part in b.parts]


async def grpc_refused(running, metadata=None, body=VALID, signal=Signal.TRACES
                       ) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await grpc_export(running, body, signal, metadata=metadata)
    return info.value


@pytest.mark.parametrize("metadata,reason", [
    (None, "missing"),
    ((("authorization", "Bearer not-a-known-token"),), "unknown"),
    ((("authorization", f"Basic {PROD_TOKEN}"),), "malformed"),
])
async def test_grpc_without_a_valid_token_is_unauthenticated(running, metadata, reason):
    error = await grpc_refused(running, metadata)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert PROD_TOKEN not in (error.details() or "")
    assert "not-a-known-token" not in (error.details() or "")
    assert received(running) == []
    assert running.metric(FAILURES, "otlp", "grpc", reason) == 1
    assert running.metric(FAILURES, "otlp", "http", reason) == 0


@pytest.mark.parametrize("headers,reason", [
    ({}, "missing"),
    ({"Authorization": "Bearer not-a-known-token"}, "unknown"),
    ({"Authorization": "Bearer"}, "malformed"),
])
async def test_http_without_a_valid_token_is_401_with_the_challenge(running, session, headers,
                                                                    reason):
    status, resp_headers, body = await post(session, running.url(Signal.TRACES), VALID,
                                            {**PB, **headers})
    assert status == 401
    assert resp_headers["WWW-Authenticate"] == CHALLENGE
    assert b"not-a-known-token" not in body
    assert received(running) == []
    assert running.metric(FAILURES, "otlp", "http", reason) == 1


async def test_a_valid_token_is_accepted_and_its_principal_travels_with_the_data(running,
                                                                                session):
    await grpc_export(running, VALID, metadata=(("authorization", f"Bearer {PROD_TOKEN}"),))
    status, _, _ = await post(session, running.url(Signal.TRACES), VALID,
                              {**PB, "Authorization": f"bearer {PROD_TOKEN}"})
    assert status == 200
    parts = received(running)
    assert [p.sender.transport for p in parts] == ["grpc", "http"]
    assert [p.sender.principal for p in parts] == [PROD, PROD]
    assert parts[0].sender.principal.name == "bearertokenauth:hangar-prod"
    assert running.metric("otelcol_receiver_accepted_spans_total", "otlp", "grpc") == 2
    assert running.metric("otelcol_receiver_accepted_spans_total", "otlp", "http") == 2
    for transport in ("grpc", "http"):
        for reason in ("missing", "unknown", "malformed"):
            assert running.metric(FAILURES, "otlp", transport, reason) == 0


async def test_allow_turns_a_principal_away_from_a_signal(start_receiver, session):
    host = StandaloneHost(extensions={"bearertokenauth": await bearer()})
    running = await start_receiver(auth_config(allow={"logs": ["other"]}), host=host)
    prod = (("authorization", f"Bearer {PROD_TOKEN}"),)
    error = await grpc_refused(running, prod, logs_request(), Signal.LOGS)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "hangar-prod" in (error.details() or "")
    status, headers, _ = await post(session, running.url(Signal.LOGS), logs_request(),
                                    {**PB, "Authorization": f"Bearer {PROD_TOKEN}"})
    assert status == 403
    assert "WWW-Authenticate" not in headers
    assert received(running, Signal.LOGS) == []
    assert running.metric(FAILURES, "otlp", "grpc", "not_allowed") == 1
    assert running.metric(FAILURES, "otlp", "http", "not_allowed") == 1
    # its traces are still welcome, and "other" may send logs
    await grpc_export(running, VALID, metadata=prod)
    status, _, _ = await post(session, running.url(Signal.TRACES), VALID,
                              {**PB, "Authorization": f"Bearer {PROD_TOKEN}"})
    assert status == 200
    assert [p.sender.principal for p in received(running)] == [PROD, PROD]
    await grpc_export(running, logs_request(), Signal.LOGS,
                      metadata=(("authorization", f"Bearer {OTHER_TOKEN}"),))
    (part,) = received(running, Signal.LOGS)
    assert part.sender.principal.subject == "other"
    assert part.sender.principal.type == "agent"


async def export(exporter, items) -> object:
    try:
        return await asyncio.to_thread(exporter.export, items)
    finally:
        await asyncio.to_thread(exporter.shutdown)


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_the_sdk_exporter_authenticates_with_headers(running, transport):
    def exporter(headers: dict[str, str] | None) -> Any:
        if transport == "grpc":
            return GrpcSpans(endpoint=running.grpc_target, insecure=True, headers=headers,
                             timeout=5)
        return HttpSpans(endpoint=running.url(Signal.TRACES), headers=headers, timeout=5)

    result = await export(exporter({"authorization": f"Bearer {PROD_TOKEN}"}), make_spans())
    assert result.name == "SUCCESS"
    (part,) = received(running)
    assert part.sender.principal == PROD
    assert part.item_count == 3

    result = await export(exporter(None), make_spans())
    assert result.name == "FAILURE"
    assert len(received(running)) == 1
    assert running.metric(FAILURES, "otlp", transport, "missing") == 1


async def test_basicauth_over_http(start_receiver, session):
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(b"s3cret").digest()).decode()
    config = build(BASIC.config_class, {"htpasswd": {"inline": f"hangar:{sha}"},
                                        "principals": {"hangar": {"roles": ["forwarder"]}}})
    ext = BASIC.create(make_settings(Kind.EXTENSION, "basicauth"), config)
    await ext.start(StandaloneHost())
    running = await start_receiver(auth_config("basicauth"),
                                   host=StandaloneHost(extensions={"basicauth": ext}))

    def basic(password: str) -> dict[str, str]:
        value = base64.b64encode(f"hangar:{password}".encode()).decode()
        return {**PB, "Authorization": f"Basic {value}"}

    status, _, _ = await post(session, running.url(Signal.TRACES), VALID, basic("s3cret"))
    assert status == 200
    (part,) = received(running)
    assert part.sender.principal == Principal("basicauth", "hangar", "service", ("forwarder",))

    status, headers, body = await post(session, running.url(Signal.TRACES), VALID,
                                       basic("Guess-42"))
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="hangar-otelcol"'
    assert b"Guess-42" not in body
    assert len(received(running)) == 1
    assert running.metric(FAILURES, "otlp", "http", "unknown") == 1


async def test_two_authorization_headers_are_malformed_on_http_as_on_grpc(start_receiver,
                                                                          session):
    """One valid and one wrong token in two headers: refused (not "the last one wins"), the
    way gRPC refuses repeated metadata."""
    host = StandaloneHost(extensions={"bearertokenauth": await bearer()})
    running = await start_receiver(auth_config(), host=host)
    headers = CIMultiDict(PB)
    headers.add("Authorization", f"Bearer {OTHER_TOKEN}")
    headers.add("Authorization", f"Bearer {PROD_TOKEN}")
    async with session.post(running.url(Signal.TRACES), data=VALID, headers=headers) as resp:
        assert resp.status == 401
    assert received(running) == []
    assert running.metric(FAILURES, "otlp", "http", "malformed") == 1


async def test_a_flood_of_wrong_passwords_is_refused_busy_not_queued(start_receiver, session):
    """bcrypt at cost 12 (~200 ms each) and at most 2 verifications at once: of 12 distinct
    wrong passwords sent together, the ones beyond 2 are answered 429 with Retry-After at
    once instead of queueing seconds of bcrypt work; afterwards the right one passes."""
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(12)).decode()
    config = build(BASIC.config_class, {"htpasswd": {"inline": f"hangar:{hashed}"},
                                        "max_pending_verifications": 2})
    ext = BASIC.create(make_settings(Kind.EXTENSION, "basicauth"), config)
    await ext.start(StandaloneHost())
    running = await start_receiver(auth_config("basicauth"),
                                   host=StandaloneHost(extensions={"basicauth": ext}))

    def basic(password: str) -> dict[str, str]:
        value = base64.b64encode(f"hangar:{password}".encode()).decode()
        return {**PB, "Authorization": f"Basic {value}"}

    answers = await asyncio.gather(*(post(session, running.url(Signal.TRACES), VALID,
                                          basic(f"guess-{i}")) for i in range(12)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses.count(401) <= 2 and statuses.count(429) >= 10, statuses
    assert all(headers.get("Retry-After") for status, headers, _ in answers if status == 429)
    assert running.metric(FAILURES, "otlp", "http", "busy") >= 10
    status, _, _ = await post(session, running.url(Signal.TRACES), VALID, basic("s3cret"))
    assert status == 200


async def test_a_whole_gateway_config_with_a_token_from_the_environment(monkeypatch, session):
    """The loader expands ${env:...}, the model checks the reference, the service starts the
    extension before the receiver that uses it."""
    monkeypatch.setenv("HANGAR_TEST_GATEWAY_TOKEN", PROD_TOKEN)
    port = free_port()
    text = f"""
extensions:
  bearertokenauth/gw: {{token: "${{env:HANGAR_TEST_GATEWAY_TOKEN}}", principal: hangar-prod}}
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{port}", auth: {{authenticator: bearertokenauth/gw}}}}
exporters: {{debug: {{}}}}
service:
  extensions: [bearertokenauth/gw]
  pipelines: {{traces: {{receivers: [otlp], exporters: [debug]}}}}
"""
    svc = Service(validate(load([f"yaml:{text}"]), default_registry()))
    await svc.start()
    try:
        url = f"http://127.0.0.1:{port}/v1/traces"
        status, headers, _ = await post(session, url, VALID, PB)
        assert (status, headers["WWW-Authenticate"]) == (401, CHALLENGE)
        status, _, _ = await post(session, url, VALID,
                                  {**PB, "Authorization": f"Bearer {PROD_TOKEN}"})
        assert status == 200
    finally:
        await svc.shutdown()
