"""The shipped config with the secure-gateway recipe (config/recipes/secure-gateway.yaml), as
docs/security.md tells an operator to run it: TLS, bearer tokens from a file, identity in
enforce mode. Real OpenTelemetry SDK exporters (gRPC and HTTP) send hangar 2.x audit records;
what a user checks is the compliance file, the Prometheus page and the gateway's own
refusal counters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.sdk._logs.export import LogRecordExportResult

from tests.support.gateway import shipped_gateway
from tests.support.metrics import scrape, series
from tests.support.tls import self_signed
from tests.support.waiting import eventually
from tests.support.workload import call_number, sdk_calls

HANGAR_TOKEN = "hangar-prod-0c9f2b7e5d4a41f8b36e"
CI_TOKEN = "ci-bot-7d1e44a09b3c4b2f9e01"
#: a sender that says it is someone else
FORGED = {"mcp.caller.id": "admin", "mcp.caller.type": "human", "mcp.caller.roles": "admin",
          "enduser.id": "admin", "mcp.cost.cents": 10**12}


def _lines(path: Path) -> dict[int, dict]:
    if not path.exists():
        return {}
    out = {}
    for raw in path.read_bytes().splitlines():
        line = orjson.loads(raw)
        n = call_number(line.get("trace_id", ""))
        if n is not None:
            out[n] = line
    return out


async def test_only_token_holders_write_and_identity_comes_from_the_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these override the exporter's certificate_file (this machine sets them)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    ca, _, ca_cert, ca_key = self_signed(tmp_path, "ca")
    cert, key, _, _ = self_signed(tmp_path, "server", ca=(ca_cert, ca_key))
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        f"- {{token: {HANGAR_TOKEN}, principal: hangar-prod, type: service}}\n"
        f"- {{token: {CI_TOKEN}, principal: ci-bot, type: agent, roles: [deployer]}}\n")
    tokens.chmod(0o600)
    compliance = tmp_path / "audit.jsonl"
    audit_file = tmp_path / "hangar-audit.jsonl"
    audit_file.write_text("")
    gateway, ports = shipped_gateway(tmp_path, "{}\n", recipes=["secure-gateway"])
    gateway.env.update({
        "HANGAR_OTELCOL_TOKENS": str(tokens), "HANGAR_OTELCOL_TLS_CERT": str(cert),
        "HANGAR_OTELCOL_TLS_KEY": str(key),
        "HANGAR_OTELCOL_GRPC_ENDPOINT": f"127.0.0.1:{ports['grpc']}",
        "HANGAR_OTELCOL_HTTP_ENDPOINT": f"127.0.0.1:{ports['http']}",
        "HANGAR_OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{ports['health']}",
        "HANGAR_OTELCOL_METRICS_ENDPOINT": f"127.0.0.1:{ports['metrics']}",
        "HANGAR_OTELCOL_PROMETHEUS_ENDPOINT": f"127.0.0.1:{ports['prom']}",
        "HANGAR_AUDIT_LOG": str(audit_file),
        "MCP_COMPLIANCE_FORMAT": "jsonlines", "MCP_COMPLIANCE_OUTPUT": str(compliance)})
    gateway.start()
    grpc_url, http_url = f"https://localhost:{ports['grpc']}", \
        f"https://localhost:{ports['http']}/v1/logs"

    def grpc(token: str | None) -> GrpcLogs:
        return GrpcLogs(endpoint=grpc_url, credentials=_credentials(ca), timeout=10,
                        headers={"authorization": f"Bearer {token}"} if token else None)

    def http(token: str | None) -> HttpLogs:
        return HttpLogs(endpoint=http_url, certificate_file=str(ca), timeout=10,
                        headers={"authorization": f"Bearer {token}"} if token else None)

    try:
        results = await asyncio.to_thread(lambda: {
            "grpc ci-bot": grpc(CI_TOKEN).export(sdk_calls(1, 5, FORGED)),
            "http ci-bot": http(CI_TOKEN).export(sdk_calls(6, 5, FORGED)),
            "grpc hangar": grpc(HANGAR_TOKEN).export(sdk_calls(11, 5, {
                "mcp.caller.id": "alice", "mcp.caller.type": "human"})),
            "grpc none": grpc(None).export(sdk_calls(100, 5)),
            "http none": http(None).export(sdk_calls(105, 5)),
            "http wrong": http("not-a-token-at-all").export(sdk_calls(110, 5)),
        })
        ok = LogRecordExportResult.SUCCESS
        assert {k: v == ok for k, v in results.items()} == {
            "grpc ci-bot": True, "http ci-bot": True, "grpc hangar": True,
            "grpc none": False, "http none": False, "http wrong": False}

        await eventually(lambda: len(_lines(compliance)) >= 15, timeout=20,
                         what=lambda: f"compliance lines: {sorted(_lines(compliance))}")
        lines = _lines(compliance)
        assert sorted(lines) == list(range(1, 16)), "refused senders wrote nothing"
        for n in range(1, 11):  # ci-bot's forged identity and cost are gone
            assert (lines[n]["caller_id"], lines[n]["caller_type"],
                    lines[n]["caller_roles"]) == ("ci-bot", "agent", "deployer"), lines[n]
            assert lines[n].get("cost_cents", 0) < 10**6, lines[n]
        for n in range(11, 16):  # a trusted hangar speaks for its users
            assert (lines[n]["caller_id"], lines[n]["caller_type"]) == ("alice", "human")

        prom = await scrape(ports["prom"])
        assert series(prom, "mcp_hangar_caller_tool_calls_total", mcp_server="math",
                      tool="add", caller_type="agent", caller_id="ci-bot") == 10
        assert not any("admin" in str(labels) for (_, labels) in prom), \
            "the forged caller reached Prometheus"
        own = await scrape(ports["metrics"])
        refused = {(dict(labels)["transport"], dict(labels)["reason"]): value
                   for (name, labels), value in own.items()
                   if name == "otelcol_receiver_auth_failures_total"}
        assert refused == {("grpc", "missing"): 1, ("http", "missing"): 1,
                           ("http", "unknown"): 1}, refused
    finally:
        assert gateway.stop() == 0, gateway.stderr()
    assert HANGAR_TOKEN not in gateway.stderr() and CI_TOKEN not in gateway.stderr()


def _credentials(cert: Path):  # type: ignore[no-untyped-def]
    import grpc

    return grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
