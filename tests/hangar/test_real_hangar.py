"""Issue 5 "done when": with each hangar line installed from PyPI and unmodified, the same
tool calls give the same counters, the same compliance records and the same attributes
downstream, apart from what that line cannot know.

Per test: a real gRPC OTLP sink (downstream), the real gateway (``python -m hangar_otelcol``
on the shipped config/gateway.yaml, with an overlay that sets a price, a default caller and
forwards everything to the sink), real ``mcp-hangar serve --http`` pointed at it, and the
MCP client calling add, multiply+add, divide(1,0) (tool error), slow with a timeout, add.

- 2.34.4 sends spans and audit logs (gRPC or http/protobuf): the gateway must not count a
  call twice;
- 1.6.3 sends spans only: the tool_audit connector makes the audit records; it cannot
  report server state changes (there is no span for them);
- 1.1.0 sends no OTLP at all: its stderr is piped into the gateway's stdin
  (``mcp-hangar serve ... 2>&1 | hangar-otelcol``); it reports divide(1,0) as a success
  (hangar 1.1.0 treats isError results as successes).

Hangar 1.6.3 and 2.x write their own compliance JSON lines too: the gateway's records are
compared with them, call by call.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hangar_otelcol.testing import free_port
from tests.hangar import hangars
from tests.support import configs
from tests.support.gateway import GatewayProcess
from tests.support.metrics import scrape, series
from tests.support.otlp import attrs
from tests.support.sinks import GrpcSink
from tests.support.waiting import eventually

pytestmark = [pytest.mark.hangar, pytest.mark.usefixtures("hangar_venvs")]

HOLD = "3s"  # tool_audit hold; hangar's SDK flushes every 0.5 s here (OTEL_B*_SCHEDULE_DELAY)
PRICE = 25  # hundredths of a cent per priced call (fixed rule for math/*)

def overlay() -> str:
    """What the test changes in the shipped config: a fixed price and a default caller, a
    shorter hold, compliance to a file, and everything also forwarded to the OTLP sink."""
    return configs.shipped_overlay(
        receivers={"hangar_audit_log": {"path": "{audit_path}", "checkpoint": False}},
        processors={"mcp_caller": {"default": {"id": "ci-agent", "type": "agent"}},
                    "mcp_cost": {"rules": [{"mcp_server_id": "math", "tool_name": "*",
                                            "model": "fixed", "fixed_cost_cents": PRICE}]}},
        connectors={"tool_audit": {"hold": HOLD}},
        exporters={"compliance": {"format": "jsonlines", "output": "{compliance}"},
                   "otlp": configs.otlp_out("{sink}")},
        service={"pipelines": {"traces": {"exporters": ["tool_audit", "debug", "otlp"]},
                               "logs": {"exporters": ["prometheus", "compliance", "debug",
                                                      "otlp"]}}})


CALLS = ["add", "multiply", "add", "divide", "slow", "add"]
STATE_CHANGES = [("cold", "initializing"), ("initializing", "ready")]


def expected_calls(version: str) -> Counter:
    """(tool, status, error_type) of the six calls as this hangar line reports them."""
    divide = ("success", None) if version == "1.1.0" else ("error", "tool_error")
    out: Counter = Counter()
    for tool in CALLS:
        status, error = {"divide": divide, "slow": ("error", "TimeoutError")}.get(
            tool, ("success", None))
        out[(tool, status, error)] += 1
    return out


def compliance_view(lines: list[str]) -> Counter:
    """Compliance JSON lines (the gateway's or hangar's own) as comparable tuples."""
    out: Counter = Counter()
    for line in lines:
        d = json.loads(line)
        if d.get("event_type") == "ChainCheckpoint":  # the shipped config chains its records
            continue
        server = d.get("mcp_server_id") or d.get("provider_id")
        if "to_state" in d:
            out[("state", server, d.get("from_state"), d["to_state"])] += 1
        else:
            out[("tool", server, d.get("tool_name"), d.get("status"), d.get("error_type"))] += 1
    return out


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def sink_records(sink: GrpcSink, signal: str) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """(resource attrs, record attrs, scope) of everything the sink got for a signal."""
    return [(attrs(res), attrs(item), scope.name) for res, scope, item in sink.records(signal)]


async def run_line(tmp_path: Path, version: str, protocol: str) -> dict[str, Any]:
    """Run one hangar line through the gateway; everything the checks need."""
    sink = await GrpcSink().start()
    ports = {k: free_port() for k in ("health", "grpc", "http", "prom", "hangar")}
    compliance = tmp_path / "gateway-compliance.jsonl"
    hangar_compliance = tmp_path / "hangar-compliance.jsonl"
    piped = version == "1.1.0"
    config = configs.write(tmp_path / "overlay.yaml", overlay(), **ports, sink=sink.port,
                           compliance=compliance,
                           audit_path="-" if piped else tmp_path / "unused.log")
    endpoint = (f"http://127.0.0.1:{ports['http']}" if protocol == "http/protobuf"
                else f"http://127.0.0.1:{ports['grpc']}")
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
           "OTEL_SERVICE_NAME": "mcp-hangar", "MCP_TRACING_ENABLED": "true",
           "OTEL_BSP_SCHEDULE_DELAY": "500", "OTEL_BLRP_SCHEDULE_DELAY": "500",
           "MCP_COMPLIANCE_FORMAT": "jsonlines", "MCP_COMPLIANCE_OUTPUT": str(hangar_compliance)}
    hangar = hangars.HangarProcess(version, tmp_path / "hangar", ports["hangar"], env)
    # the shipped config, as a user runs it, with the overlay on top
    gateway = GatewayProcess(configs.SHIPPED, ports["health"], tmp_path / "gateway.stderr",
                             extra_args=["--config", str(config)])
    want = expected_calls(version)
    n_tool = sum(want.values())
    try:
        if piped:  # mcp-hangar serve ... 2>&1 | python -m hangar_otelcol --config ...
            hangar.start(stderr=subprocess.PIPE)
            assert hangar.process is not None and hangar.process.stdout is not None
            await asyncio.to_thread(gateway.start, hangar.process.stdout)
            hangar.process.stdout.close()  # the gateway holds the read end now
        else:
            await asyncio.to_thread(gateway.start)
            hangar.start()
        await asyncio.to_thread(hangar.wait_healthy)
        client_out = await asyncio.to_thread(hangars.drive, ports["hangar"])

        def tool_records() -> int:
            return sum(n for k, n in compliance_view(read_lines(compliance)).items()
                       if k[0] == "tool")

        await eventually(lambda: tool_records() >= n_tool, 60,
                         f"{n_tool} tool records from hangar {version}", interval=0.05)
        await asyncio.to_thread(hangar.stop)
        metrics = await scrape(ports["prom"])
        code = await asyncio.to_thread(gateway.stop)  # flushes what tool_audit still holds
        assert code == 0, gateway.stderr()
    finally:
        hangar.stop()
        gateway.kill()  # still running only if the test failed
        await sink.stop()
    return {"client": client_out, "compliance": compliance_view(read_lines(compliance)),
            "hangar_compliance": compliance_view(read_lines(hangar_compliance)),
            "metrics": metrics, "logs": sink_records(sink, "logs"),
            "spans": sink_records(sink, "traces"), "want": want,
            "gateway_stderr": gateway.stderr()}


def check(version: str, got: dict[str, Any]) -> None:
    want: Counter = got["want"]
    comp: Counter = got["compliance"]
    # compliance: one record per call, with the status hangar reported ...
    tools = Counter({(k[2], k[3], k[4]): n for k, n in comp.items() if k[0] == "tool"})
    assert tools == want, f"{version}: {tools} != {want}\n{got['gateway_stderr'][-3000:]}"
    assert all(k[1] == "math" for k in comp)
    # ... and one per state change, except from 1.6.3, which never reports them
    states = Counter({(k[2], k[3]): n for k, n in comp.items() if k[0] == "state"})
    assert states == (Counter() if version == "1.6.3" else Counter(STATE_CHANGES))
    # hangar's own compliance lines (1.6+) say the same, call by call
    if version != "1.1.0":
        own = got["hangar_compliance"]
        own_tools = Counter({k: n for k, n in own.items() if k[0] == "tool"})
        assert own_tools == Counter({k: n for k, n in comp.items() if k[0] == "tool"})
        if version != "1.6.3":
            assert own == comp
    # Prometheus: the same counters from every line
    m = got["metrics"]
    for (tool, status, error), n in want.items():
        got_n = series(m, "mcp_hangar_tool_calls_total", mcp_server="math", status=status,
                       tool=tool)
        assert got_n == n, f"{version}: calls of {tool} {status} = {got_n}, want {n}"
        if error:
            got_e = series(m, "mcp_hangar_tool_call_errors_total", error_type=error,
                           mcp_server="math", tool=tool)
            assert got_e == n, f"{version}: {error} errors of {tool} = {got_e}, want {n}"
    priced = Counter(tool for (tool, status, _), n in want.items() if status == "success"
                     for _ in range(n))
    for tool, n in priced.items():
        cents = series(m, "mcp_hangar_cost_cents_total", cost_model="fixed", mcp_server="math",
                       tool=tool)
        assert cents == n * PRICE, f"{version}: cost of {tool} = {cents}, want {n * PRICE}"
    # downstream OTLP: one audit record per call and state change, attributed and priced
    audit = [(res, a) for res, a, scope in got["logs"] if scope == "mcp_hangar.audit"]
    calls = [(res, a) for res, a in audit if a.get("mcp.event.name") == "tool_invocation"]
    assert Counter((a["gen_ai.tool.name"], a["mcp.tool.status"], a.get("mcp.error.type"))
                   for _, a in calls) == want
    for res, a in calls:
        assert res["service.name"] == "mcp-hangar"
        assert (a["mcp.caller.id"], a["mcp.caller.type"]) == ("ci-agent", "agent")
        assert a["mcp.server.id"] == "math"
        assert isinstance(a["mcp.tool.duration_ms"], float)
        if a["mcp.tool.status"] == "success":
            assert (a["mcp.cost.cents"], a["mcp.cost.model"]) == (PRICE, "fixed")
        # records made from spans are marked; real audit records are not
        assert (a.get("mcp.audit.source") == "span") == (version == "1.6.3")
    # spans go downstream unchanged in number; 1.1.0 sends none
    assert bool(got["spans"]) == (version != "1.1.0")


@pytest.mark.parametrize("version,protocol", [
    ("2.34.4", "grpc"), ("2.34.4", "http/protobuf"), ("1.6.3", "grpc"), ("1.1.0", "stderr"),
], ids=["2.34.4-grpc", "2.34.4-http", "1.6.3-grpc", "1.1.0-stderr-pipe"])
async def test_hangar_line_through_gateway(tmp_path: Path, version: str, protocol: str) -> None:
    got = await run_line(tmp_path, version, protocol)
    check(version, got)
