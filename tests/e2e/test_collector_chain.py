"""Side by side with the OpenTelemetry Collector (issue 17), in one chain:

    OpenTelemetry SDK --> Collector A --> hangar-otelcol --> Collector B --> sink

The real SDK exporters send hangar 2.x calls (each call's ``batch.call.add`` span and its
``tool_invocation`` audit record) to Collector A (the real Collector, tests/peers/otelcol),
which forwards them to hangar-otelcol on the shipped config + the secure-gateway recipe;
ours adds caller and cost and forwards to Collector B, which hands them to a sink. Over
gRPC on every hop, or OTLP/HTTP on every hop, with gzip on every hop, TLS on both hops
into and out of ours, and bearer tokens in both directions: Collector A's
``bearertokenauth`` extension as a client against our receiver's ``bearertokenauth``, our
exporter's ``headers: {authorization: Bearer ...}`` against Collector B's
``bearertokenauth`` server.

What arrives at the sink: every call's span and record exactly once, with the caller the
SDK wrote (ours trusts Collector A's principal to speak for its senders), the cost ours
computed, the tenant Collector A took from the SDK's request header, and Collector B's own
header; requests without the right token are refused at both authenticated hops.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.trace.export import SpanExportResult

from hangar_otelcol.testing import free_port
from tests.peers.otelcol import peer
from tests.support import configs
from tests.support.faults import Tally
from tests.support.gateway import shipped_gateway
from tests.support.otlp import attrs
from tests.support.sinks import GrpcSink, HttpSink
from tests.support.tls import self_signed
from tests.support.workload import call_number, sdk_calls, sdk_spans

EDGE_TOKEN = "edge-collector-5f0c3a9e1b7d4c26a8e4"   # Collector A -> ours
OURS_TOKEN = "hangar-otelcol-e2b94d17c6a05f38b1d9"  # ours -> Collector B
CALLS = 40
#: what the SDK writes about the caller (ours believes Collector A's principal, which
#: forwards for its senders: trusted_principals)
CALLER = {"mcp.caller.id": "alice", "mcp.caller.type": "human", "mcp.caller.roles": "reader"}
PRICING = "rules:\n  - {mcp_server_id: math, tool_name: add, usd_per_call: 0.01}\n"
CENTS = 100  # hundredths of a cent: $0.01 per call

# the shipped config + secure-gateway (tokens, TLS, enforce with a trusted principal), and
# this overlay: forward both signals to Collector B with a bearer token of ours
OVERLAY = """
connectors:
  tool_audit: {{hold: 2s}}
exporters:
  {exporter}/collector_b:
    endpoint: "{endpoint}"
    tls: {{ca_file: "{ca}"}}
    compression: gzip
    headers: {{authorization: "Bearer {token}"}}
service:
  telemetry: {{metrics: {{address: "127.0.0.1:{{metrics}}"}}}}
  pipelines:
    traces: {{exporters: [tool_audit, {exporter}/collector_b]}}
    logs: {{exporters: [prometheus, compliance, {exporter}/collector_b]}}
"""


def collector_a(protocol: str, ports: dict[str, int], ours: dict[str, int], ca: Path) -> str:
    """OTLP in (plain, loopback), the SDK's x-tenant header into an attribute, then to
    ours over TLS with gzip and Collector A's bearer token."""
    if protocol == "grpc":
        exporter = {"otlp_grpc/ours": {"endpoint": f"127.0.0.1:{ours['grpc']}"}}
    else:
        exporter = {"otlp_http/ours": {"endpoint": f"https://127.0.0.1:{ours['http']}"}}
    for settings in exporter.values():
        settings.update({"tls": {"ca_file": str(ca)}, "compression": "gzip",
                         "auth": {"authenticator": "bearertokenauth/client"},
                         "retry_on_failure": {"max_elapsed_time": "60s"}})
    return configs.dump({
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports['health']}"},
                       "bearertokenauth/client": {"token": EDGE_TOKEN}},
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{ports['grpc']}", "include_metadata": True},
            "http": {"endpoint": f"127.0.0.1:{ports['http']}", "include_metadata": True}}}},
        "processors": {"attributes/tenant": {"actions": [
            {"key": "tenant", "from_context": "metadata.x-tenant", "action": "insert"}]}},
        "exporters": exporter,
        "service": {"extensions": ["health_check", "bearertokenauth/client"],
                    "telemetry": {"metrics": {"level": "none"}},
                    "pipelines": {signal: {"receivers": ["otlp"],
                                           "processors": ["attributes/tenant"],
                                           "exporters": list(exporter)}
                                  for signal in ("traces", "logs")}},
    })


def collector_b(protocol: str, ports: dict[str, int], sink: GrpcSink | HttpSink,
                cert: Path, key: Path) -> str:
    """OTLP in over TLS, only with our bearer token; batch; to the sink with gzip and a
    header of its own."""
    tls = {"cert_file": str(cert), "key_file": str(key)}
    auth = {"authenticator": "bearertokenauth/server"}
    if protocol == "grpc":
        exporter = {"otlp_grpc/sink": {"endpoint": f"127.0.0.1:{sink.port}",
                                       "tls": {"insecure": True}}}
    else:
        exporter = {"otlp_http/sink": {"endpoint": f"http://127.0.0.1:{sink.port}"}}
    for settings in exporter.values():
        settings.update({"compression": "gzip", "headers": {"x-sink-key": "from-collector-b"}})
    return configs.dump({
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports['health']}"},
                       "bearertokenauth/server": {"token": OURS_TOKEN}},
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{ports['grpc']}", "tls": tls, "auth": auth},
            "http": {"endpoint": f"127.0.0.1:{ports['http']}", "tls": tls, "auth": auth}}}},
        "processors": {"batch": {"timeout": "100ms"}},
        "exporters": exporter,
        "service": {"extensions": ["health_check", "bearertokenauth/server"],
                    "telemetry": {"metrics": {"level": "none"}},
                    "pipelines": {signal: {"receivers": ["otlp"], "processors": ["batch"],
                                           "exporters": list(exporter)}
                                  for signal in ("traces", "logs")}},
    })


@pytest.fixture
def otelcol() -> str:
    binary = peer.binary()
    if binary is None:
        pytest.skip(peer.skip_reason())
    return binary


@pytest.fixture
def no_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these override the exporter's certificate_file (this machine sets them)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


class Collectors:
    """Real Collector processes started for one test, stopped (and checked) at its end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.procs: dict[str, Any] = {}

    def start(self, name: str, config: str, health: int) -> None:
        proc = peer.run(config, self.tmp / name)
        self.procs[name] = proc
        assert peer.wait_healthy(health, timeout=30, proc=proc), peer.log_text(proc)[-3000:]

    def stop(self) -> dict[str, int]:
        return {name: peer.stop(proc) for name, proc in self.procs.items()}


@pytest.fixture
def collectors(tmp_path: Path) -> Iterator[Collectors]:
    started = Collectors(tmp_path)
    yield started
    codes = started.stop()
    assert set(codes.values()) <= {0}, {n: peer.log_text(p)[-3000:]
                                         for n, p in started.procs.items()}


def _ports() -> dict[str, int]:
    return {key: free_port() for key in ("grpc", "http", "health")}


def _send(protocol: str, port: int, headers: dict[str, str], token_less: bool = False
          ) -> dict[str, bool]:
    """The SDK's span and log exporters, gzip, to Collector A: every call's span and
    audit record (in two requests each, in both orders as hangar's SDK flushes them)."""
    half = CALLS // 2
    if protocol == "grpc":
        spans = GrpcSpans(endpoint=f"127.0.0.1:{port}", insecure=True, headers=headers,
                          compression=grpc.Compression.Gzip, timeout=20)
        logs = GrpcLogs(endpoint=f"127.0.0.1:{port}", insecure=True, headers=headers,
                        compression=grpc.Compression.Gzip, timeout=20)
    else:
        base = f"http://127.0.0.1:{port}"
        spans = HttpSpans(endpoint=f"{base}/v1/traces", headers=headers,
                          compression=HttpCompression.Gzip, timeout=20)
        logs = HttpLogs(endpoint=f"{base}/v1/logs", headers=headers,
                        compression=HttpCompression.Gzip, timeout=20)
    try:
        return {
            "spans 1": spans.export(sdk_spans(0, half, CALLER)) == SpanExportResult.SUCCESS,
            "logs 1": logs.export(sdk_calls(0, half, CALLER)) == LogRecordExportResult.SUCCESS,
            "logs 2": logs.export(sdk_calls(half, half, CALLER))
            == LogRecordExportResult.SUCCESS,
            "spans 2": spans.export(sdk_spans(half, half, CALLER))
            == SpanExportResult.SUCCESS,
        }
    finally:
        spans.shutdown()
        logs.shutdown()


#: the call numbers of the control records sent straight to ours and to Collector B
CONTROLS = {"ours": 10_000, "collector B": 10_001}


def _auth_checks(protocol: str, ours: dict[str, int], b: dict[str, int], ca: Path
                 ) -> dict[str, bool]:
    """SDK exporters straight to ours and to Collector B, over TLS, with the right token,
    none and a wrong one: whether each export was accepted (the right token's record,
    call CONTROLS[who], goes on to the sink)."""
    out = {}
    for who, ports, good in (("ours", ours, EDGE_TOKEN), ("collector B", b, OURS_TOKEN)):
        for label, token in (("right token", good), ("no token", None),
                             ("wrong token", good[::-1])):
            headers = {"authorization": f"Bearer {token}"} if token else None
            if protocol == "grpc":
                creds = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
                exporter: Any = GrpcLogs(endpoint=f"https://127.0.0.1:{ports['grpc']}",
                                         credentials=creds, headers=headers, timeout=5)
            else:
                exporter = HttpLogs(endpoint=f"https://127.0.0.1:{ports['http']}/v1/logs",
                                    certificate_file=str(ca), headers=headers, timeout=5)
            try:
                result = exporter.export(sdk_calls(CONTROLS[who], 1))
            finally:
                exporter.shutdown()
            out[f"{who}, {label}"] = result == LogRecordExportResult.SUCCESS
    return out


@pytest.mark.parametrize("protocol", ["grpc", "http"])
async def test_sdk_collector_ours_collector_sink_keeps_caller_cost_and_counts(
        tmp_path: Path, otelcol: str, collectors: Collectors, no_ca_bundle: None,
        protocol: str) -> None:
    ca, _, ca_cert, ca_key = self_signed(tmp_path, "ca")
    cert, key, _, _ = self_signed(tmp_path, "server", ca=(ca_cert, ca_key))
    sink: GrpcSink | HttpSink = await (GrpcSink().start() if protocol == "grpc"
                                       else HttpSink().start())
    b_ports, a_ports = _ports(), _ports()
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f"- {{token: {EDGE_TOKEN}, principal: edge-collector, type: service}}\n")
    tokens.chmod(0o600)
    (tmp_path / "pricing.yaml").write_text(PRICING)
    (tmp_path / "hangar-audit.jsonl").write_text("")
    exporter = "otlp" if protocol == "grpc" else "otlp_http"
    endpoint = f"127.0.0.1:{b_ports['grpc']}" if protocol == "grpc" else \
        f"https://127.0.0.1:{b_ports['http']}"
    gateway, ours = shipped_gateway(
        tmp_path, OVERLAY.format(exporter=exporter, endpoint=endpoint, ca=ca, token=OURS_TOKEN),
        name="ours", recipes=["secure-gateway"])
    gateway.env.update({
        "HANGAR_OTELCOL_TOKENS": str(tokens), "HANGAR_OTELCOL_TLS_CERT": str(cert),
        "HANGAR_OTELCOL_TLS_KEY": str(key), "HANGAR_TRUSTED_PRINCIPAL": "edge-collector",
        "HANGAR_OTELCOL_GRPC_ENDPOINT": f"127.0.0.1:{ours['grpc']}",
        "HANGAR_OTELCOL_HTTP_ENDPOINT": f"127.0.0.1:{ours['http']}",
        "HANGAR_OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{ours['health']}",
        "HANGAR_OTELCOL_PROMETHEUS_ENDPOINT": f"127.0.0.1:{ours['prom']}",
        "HANGAR_AUDIT_LOG": str(tmp_path / "hangar-audit.jsonl"),
        "HANGAR_PRICING_FILE": str(tmp_path / "pricing.yaml"),
        "MCP_COMPLIANCE_FORMAT": "jsonlines",
        "MCP_COMPLIANCE_OUTPUT": str(tmp_path / "audit.jsonl")})
    try:
        collectors.start("collector-b", collector_b(protocol, b_ports, sink, cert, key),
                         b_ports["health"])
        await asyncio.to_thread(gateway.start)
        collectors.start("collector-a", collector_a(protocol, a_ports, ours, ca),
                         a_ports["health"])

        sent = await asyncio.to_thread(_send, protocol, a_ports[protocol],
                                       {"x-tenant": "acme"})
        assert all(sent.values()), sent
        await sink.wait_for_items("traces", CALLS, timeout=60)
        await sink.wait_for_items("logs", CALLS, timeout=60)
        # past tool_audit's hold (2 s): a span ours had not paired would now be derived
        # into an extra audit record, and would arrive
        await asyncio.sleep(4.0)
        accepted = await asyncio.to_thread(_auth_checks, protocol, ours, b_ports, ca)
        await sink.wait_for_items("logs", CALLS + len(CONTROLS), timeout=30)
    finally:
        code = await asyncio.to_thread(gateway.stop)
        await sink.stop()
    assert code == 0, gateway.stderr()[-3000:]
    assert accepted == {"ours, right token": True, "ours, no token": False,
                        "ours, wrong token": False, "collector B, right token": True,
                        "collector B, no token": False, "collector B, wrong token": False}
    for secret in (EDGE_TOKEN, OURS_TOKEN):
        assert secret not in gateway.stderr()

    for signal in ("traces", "logs"):
        numbers = Counter(call_number(item.trace_id.hex()) for _, _, item in
                          sink.records(signal))
        controls = Counter({n: 1 for n in CONTROLS.values()} if signal == "logs" else {})
        assert numbers == Counter(range(CALLS)) + controls, (signal, numbers)  # each once
        records = [attrs(item) for _, _, item in sink.records(signal)
                   if call_number(item.trace_id.hex()) in range(CALLS)]
        for a in records:
            assert {k: a.get(k) for k in CALLER} == CALLER, (signal, a)
            assert a.get("mcp.cost.cents") == CENTS, (signal, a)
            assert a.get("mcp.cost.currency") == "USD", (signal, a)
            assert a.get("tenant") == "acme", (signal, a)  # the SDK's header, via A
            assert (a.get("mcp.server.id"), a.get("gen_ai.tool.name")) == ("math", "add")
    spans = Counter(call_number(item.trace_id.hex()) for _, _, item in sink.records("traces"))
    logs = Counter(call_number(item.trace_id.hex()) for _, _, item in sink.records("logs"))
    tally = Tally(f"SDK -> Collector -> hangar-otelcol -> Collector -> sink ({protocol})",
                  sent=CALLS, acknowledged=CALLS if all(sent.values()) else 0,
                  delivered=sum(1 for n in range(CALLS) if spans[n] and logs[n]),
                  duplicated=sum(c - 1 for counts in (spans, logs)
                                 for n, c in counts.items() if n in range(CALLS) and c > 1))
    tally.lost = tally.acknowledged - tally.delivered
    tally.notes.update(spans=sum(spans[n] for n in range(CALLS)),
                       records=sum(logs[n] for n in range(CALLS)),
                       auth_checks="as expected")
    print(tally.line())
    for received in sink.received:
        assert received.metadata.get("x-sink-key") == "from-collector-b"
        if protocol == "http":  # gzip on the last hop, seen on the wire
            assert received.metadata.get("content-encoding") == "gzip", received.metadata
            assert int(received.metadata["raw-length"]) < len(received.body)
