"""Issue 13: one poison record must not drop everyone's data.

The real gateway (the shipped config with the shipped pricing example, compliance as
JSON lines and as LEEF to files, Prometheus, self-metrics) gets good calls from several
senders in the same batch as a record with an unusable number. What a user checks: every
good call is in every compliance file and in the Prometheus counters; the bad one is there
too, unpriced (``mcp.cost.error`` says why; its attribute stays as sent); /metrics and the
self-metrics endpoint still answer 200; no counter ever goes down; and a record that can
never be priced is answered 200 (never 503 + Retry-After, which SDKs retry forever).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from tests.exporters.compliance.parsers import parse_leef
from tests.support import configs
from tests.support.gateway import GatewayProcess, shipped_gateway
from tests.support.metrics import Samples, scrape, series
from tests.support.paths import REPO
from tests.support.waiting import eventually
from tests.support.workload import call_number, calls_request, jsonl_records

PRICING = REPO / "config" / "pricing.example.yaml"
POISON_TOKENS = "9" * 400


@contextmanager
def gateway(tmp_path: Path) -> Iterator[tuple[GatewayProcess, dict[str, int], Path, Path]]:
    jsonl, leef = tmp_path / "audit.jsonl", tmp_path / "audit.leef"
    overlay = configs.shipped_overlay(
        processors={"mcp_cost": {"pricing_file": str(PRICING)}},
        exporters={
            "compliance": {"format": "jsonlines", "output": str(jsonl)},
            "compliance/leef": {"format": "leef", "output": str(leef), "count_spans": False,
                                "sending_queue": {"storage": "file_storage"}},
        },
        service={
            "telemetry": {"metrics": {"level": "normal", "address": "127.0.0.1:{metrics}"}},
            "pipelines": {"logs": {
                "receivers": ["tool_audit"], "processors": ["mcp_caller", "mcp_cost", "batch"],
                "exporters": ["prometheus", "compliance", "compliance/leef", "debug"]}},
        })
    gw, ports = shipped_gateway(tmp_path, overlay)
    gw.start(timeout=30)
    try:
        yield gw, ports, jsonl, leef
    finally:
        code = gw.stop()
        assert code == 0, gw.stderr()


def call(n: int, server: str = "math", tool: str = "add", **attributes: Any
         ) -> ExportLogsServiceRequest:
    """Hangar 2.34.4's audit record of one call ``n`` (its own request: its own sender),
    on ``server``/``tool``, with ``attributes`` replaced or added."""
    request = calls_request(n, 1)
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    request.resource_logs[0].resource.attributes.add(
        key="service.instance.id").value.string_value = f"sender-{n}"
    values: dict[str, Any] = {"mcp.server.id": server, "gen_ai.tool.name": tool, **attributes}
    for key, value in values.items():
        kv = next((kv for kv in record.attributes if kv.key == key), None) or \
            record.attributes.add(key=key)
        if isinstance(value, str):
            kv.value.string_value = value
        elif isinstance(value, float):
            kv.value.double_value = value
        else:
            kv.value.int_value = value
    return request


async def post(session: aiohttp.ClientSession, port: int, request: ExportLogsServiceRequest
               ) -> tuple[int, dict[str, str], bytes]:
    async with session.post(f"http://127.0.0.1:{port}/v1/logs",
                            data=request.SerializeToString(),
                            headers={"Content-Type": "application/x-protobuf"}) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def send_together(port: int, requests: list[ExportLogsServiceRequest]
                        ) -> list[tuple[int, dict[str, str], bytes]]:
    """All at once, so the batch processor hands them on as one batch."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        return list(await asyncio.gather(*(post(session, port, r) for r in requests)))


def jsonl_lines(path: Path) -> dict[int | None, dict[str, Any]]:
    return {call_number(line.get("trace_id", "")): line for line in jsonl_records(path)}


def leef_lines(path: Path) -> dict[int | None, dict[str, str]]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            _, fields = parse_leef(line)
            out[call_number(fields.get("traceId", ""))] = fields
    return out


async def arrived(jsonl: Path, leef: Path, calls: set[int]) -> None:
    await eventually(lambda: calls <= set(jsonl_lines(jsonl)) and
                     calls <= set(leef_lines(leef)), timeout=20, interval=0.1,
                     what=f"calls {sorted(calls)} in both compliance files")


def outcome(got: Samples, name: str) -> float:
    return series(got, "otelcol_processor_mcp_cost_invocations_total", processor="mcp_cost",
                  outcome=name)


def counters_finite(got: Samples) -> None:
    for (name, labels), value in got.items():
        if name.startswith("mcp_hangar_"):
            assert math.isfinite(value) and value >= 0, (name, dict(labels), value)


async def test_a_poison_record_drops_nobody_elses_data(tmp_path: Path) -> None:
    with gateway(tmp_path) as (_, ports, jsonl, leef):
        good = [call(n) for n in range(1, 6)]  # math/add: fixed 25 hundredths of a cent
        poison = call(6, "openai-tools", "chat",
                      **{"gen_ai.usage.input_tokens": POISON_TOKENS})
        answers = await send_together(ports["http"], [*good, poison])
        for status, headers, body in answers:
            assert status == 200, (status, body)
            assert "Retry-After" not in headers
            # the poison record is accepted unpriced, not rejected: no partial success
            assert ExportLogsServiceResponse.FromString(body).partial_success.rejected_log_records \
                == 0
        await arrived(jsonl, leef, {1, 2, 3, 4, 5, 6})

        lines = jsonl_lines(jsonl)
        for n in range(1, 6):
            assert lines[n]["mcp_server_id"] == "math" and lines[n]["cost_cents"] == 25
        bad = lines[6]
        assert bad["mcp_server_id"] == "openai-tools"
        assert "cost_cents" not in bad and "cost_input_tokens" not in bad  # unpriced
        leefs = leef_lines(leef)
        assert all(leefs[n].get("costCents") == "25" for n in range(1, 6)), leefs
        assert "costCents" not in leefs[6]

        async def counted() -> bool:
            got = await scrape(ports["prom"])  # asserts 200
            return series(got, "mcp_hangar_tool_calls_total", mcp_server="math", tool="add",
                          status="success") == 5
        await eventually(counted, timeout=10, what="5 calls counted", interval=0.1)
        prom = await scrape(ports["prom"])
        assert series(prom, "mcp_hangar_cost_cents_total", mcp_server="math", tool="add",
                      cost_model="fixed") == 125
        assert series(prom, "mcp_hangar_tool_calls_total", mcp_server="openai-tools",
                      tool="chat", status="success") == 1
        assert series(prom, "mcp_hangar_cost_cents_total", mcp_server="openai-tools",
                      tool="chat", cost_model="token") == 0
        counters_finite(prom)

        own = await scrape(ports["metrics"])  # asserts 200
        assert outcome(own, "out_of_range") == 1  # a 400-digit count is above int64
        assert outcome(own, "priced") >= 5
        assert series(own, "otelcol_exporter_compliance_records_written_total",
                      exporter="compliance", format="jsonlines", output="file") == 6
        # and they keep answering
        await scrape(ports["prom"])
        await scrape(ports["metrics"])


async def test_huge_durations_negative_and_unicode_counts_are_unpriced(tmp_path: Path) -> None:
    with gateway(tmp_path) as (_, ports, jsonl, leef):
        # a priced call first: its counters must never go down afterwards
        first = await send_together(ports["http"], [
            call(1, "sandbox", "run", **{"mcp.tool.duration_ms": 60_000.0}),
            call(2, "openai-tools", "chat", **{"gen_ai.usage.input_tokens": 1000})])
        assert [status for status, _, _ in first] == [200, 200]
        await arrived(jsonl, leef, {1, 2})
        before = await scrape(ports["prom"])
        assert series(before, "mcp_hangar_cost_cents_total", mcp_server="sandbox", tool="run",
                      cost_model="duration") == 100  # $0.01 per minute
        assert series(before, "mcp_hangar_cost_cents_total", mcp_server="openai-tools",
                      tool="chat", cost_model="token") == 30  # $0.003 per 1k input tokens

        answers = await send_together(ports["http"], [
            # (b) duration-priced server, 1e30 ms
            call(3, "sandbox", "run", **{"mcp.tool.duration_ms": 1e30}),
            # (c) negative tokens, as an int and as a string
            call(4, "openai-tools", "chat", **{"gen_ai.usage.input_tokens": -5000}),
            call(5, "openai-tools", "chat", **{"gen_ai.usage.output_tokens": "-7"}),
            # (d) digits only to str.isdigit: superscript two, Arabic-Indic twelve
            call(6, "openai-tools", "chat", **{"gen_ai.usage.input_tokens": "²"}),
            call(7, "openai-tools", "chat", **{"gen_ai.usage.input_tokens": "١٢"})])
        for status, headers, body in answers:
            assert status == 200, (status, body)
            assert "Retry-After" not in headers
        # (d) over gRPC too: OK, not UNAVAILABLE
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['grpc']}") as channel:
            export = channel.unary_unary(
                "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                request_serializer=ExportLogsServiceRequest.SerializeToString,
                response_deserializer=ExportLogsServiceResponse.FromString)
            await export(call(8, "openai-tools", "chat",
                              **{"gen_ai.usage.input_tokens": "²"}), timeout=20)
        await arrived(jsonl, leef, set(range(1, 9)))

        lines = jsonl_lines(jsonl)
        assert "duration_ms" not in lines[3] and "cost_cents" not in lines[3]
        for n in range(4, 9):
            assert "cost_cents" not in lines[n], lines[n]
            assert "cost_input_tokens" not in lines[n] and "cost_output_tokens" not in lines[n]

        async def counted() -> bool:
            got = await scrape(ports["prom"])
            return series(got, "mcp_hangar_tool_calls_total", mcp_server="openai-tools",
                          tool="chat", status="success") == 6
        await eventually(counted, timeout=10, what="the calls counted", interval=0.1)
        after = await scrape(ports["prom"])
        counters_finite(after)
        for key, value in before.items():
            if key[0].endswith(("_total", "_count", "_sum", "_bucket")):
                assert after.get(key, 0.0) >= value, (key, value, after.get(key))
        assert series(after, "mcp_hangar_cost_cents_total", mcp_server="sandbox", tool="run",
                      cost_model="duration") == 100
        assert series(after, "mcp_hangar_cost_cents_total", mcp_server="openai-tools",
                      tool="chat", cost_model="token") == 30
        duration_sum = series(after, "mcp_hangar_tool_call_duration_seconds_sum",
                              mcp_server="sandbox", tool="run")
        assert duration_sum == 60.0  # the 1e30 ms call adds no duration

        own = await scrape(ports["metrics"])
        assert outcome(own, "out_of_range") == 1  # 1e30 ms
        assert outcome(own, "invalid_number") == 5  # -5000, "-7", "²", "١٢", "²"
