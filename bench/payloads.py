"""Synthetic OTLP requests shaped like MCP Hangar 2.x tool-call telemetry.

Shape (taken from ``tests/testdata/hangar-captures/v2.34.4``): one resource with
hangar's 7 resource attributes, and per tool call 8 spans in 3 scopes:

- ``mcp_hangar.server.tools.batch.executor``: ``batch.call.<tool>`` (THE tool invocation:
  server, tool, token counts, outcome) plus 4 ordinary spans (policy, approval gate,
  concurrency, command send);
- ``mcp_hangar.observability.tracing``: ``execute_tool <tool>`` (an invocation marker, but a
  nested span that is not priced or counted);
- ``mcp_hangar.infrastructure.command_bus``: 2 ordinary spans (rate limit, dispatch).

So the default mix is 2 of 8 spans carrying tool-invocation markers and 1 of 8 priced and
counted. ``mix="all"`` makes every span a ``batch.call.<tool>`` span (the worst case for
enrichment, the prototype's workload). Logs are hangar's audit records
(``mcp.event.name=tool_invocation``) in scope ``mcp_hangar.audit``.

The first span (or log record) of every request carries ``bench.sent_ns`` whose value is
``LATENCY_MARK`` followed by 19 zeros; the load generator overwrites the zeros with the
send time (same length, so the protobuf stays valid) and the sink reads it back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol import otlpjson
from hangar_otelcol.pdata import Signal
from hangar_otelcol.testing import key_value

LATENCY_MARK = b"BENCHTS:"
TS_DIGITS = 19
LATENCY_PLACEHOLDER = LATENCY_MARK + b"0" * TS_DIGITS

SERVERS = ["math", "github", "jira", "postgres", "search", "slack", "fs", "k8s"]
TOOLS = ["add", "multiply", "divide", "search_issues", "create_issue", "query", "read_file",
         "list_pods", "post_message", "get_user", "summarize", "fetch"]
RESOURCE = {
    "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "1.45.2", "service.instance.id": "vm-b06a8eec",
    "service.name": "mcp-hangar", "service.version": "2.34.4",
    "deployment.environment": "production",
}
#: gRPC metadata / HTTP headers the load generator sends (hangar's identity headers)
IDENTITY_HEADERS = {"x-user-id": "alice", "x-agent-id": "agent-7", "x-session-id": "sess-1",
                    "x-principal-type": "user"}
#: the time of the first span or record of a request
T0 = 1_795_554_865_000_000_000


def _hangar_scope(resources: Any, scopes: str, name: str) -> tuple[Any, Any]:
    """A new resource with hangar's attributes, in ``resources`` (``req.resource_spans`` or
    ``req.resource_logs``), and a scope ``name`` in its ``scopes`` list."""
    resource = resources.add()
    resource.resource.attributes.extend(key_value(k, v) for k, v in RESOURCE.items())
    return resource, _scope(resource, scopes, name)


def _scope(resource: Any, scopes: str, name: str) -> Any:
    scope = getattr(resource, scopes).add()
    scope.scope.name = name
    return scope


def _mark_latency(record: Any) -> None:
    """The attribute the load generator writes the send time into (see the module doc)."""
    record.attributes.append(key_value("bench.sent_ns", LATENCY_PLACEHOLDER.decode()))


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def trace(self) -> bytes:
        return self.rng.randbytes(16)

    def span(self) -> bytes:
        return self.rng.randbytes(8)


def _span(scope: object, ids: _Ids, trace_id: bytes, parent: bytes, name: str, kind: int,
          start: int, attrs: dict[str, object]) -> bytes:
    span = scope.spans.add()  # type: ignore[attr-defined]
    span.trace_id = trace_id
    span.span_id = ids.span()
    span.parent_span_id = parent
    span.name = name
    span.kind = kind
    span.start_time_unix_nano = start
    span.end_time_unix_nano = start + ids.rng.randrange(200_000, 40_000_000)
    span.status.code = 1
    span.attributes.extend(key_value(k, v) for k, v in attrs.items())
    return span.span_id


def _call_attrs(rng: random.Random, server: str, tool: str) -> dict[str, object]:
    return {
        "mcp.server.id": server, "gen_ai.tool.name": tool,
        "batch.call.id": f"{rng.getrandbits(128):032x}", "hangar.route.reason": "standalone",
        "hangar.route.backend": server, "hangar.call.outcome": "allow",
        "gen_ai.usage.input_tokens": rng.randrange(50, 4000),
        "gen_ai.usage.output_tokens": rng.randrange(10, 1500),
    }


def traces(spans: int, mix: str = "hangar", seed: int = 1) -> ExportTraceServiceRequest:
    """One request of ``spans`` spans (a multiple of 8 for ``mix="hangar"``)."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    req = ExportTraceServiceRequest()
    rs, executor = _hangar_scope(req.resource_spans, "scope_spans",
                                 "mcp_hangar.server.tools.batch.executor")
    if mix == "all":
        for i in range(spans):
            server, tool = rng.choice(SERVERS), rng.choice(TOOLS)
            _span(executor, ids, ids.trace(), ids.span(), f"batch.call.{tool}", 1, T0 + i * 1000,
                  _call_attrs(rng, server, tool))
    else:
        if spans % 8:
            raise ValueError("mix=hangar needs a multiple of 8 spans")
        tracing = _scope(rs, "scope_spans", "mcp_hangar.observability.tracing")
        bus = _scope(rs, "scope_spans", "mcp_hangar.infrastructure.command_bus")
        for i in range(spans // 8):
            server, tool = rng.choice(SERVERS), rng.choice(TOOLS)
            trace_id, start = ids.trace(), T0 + i * 1_000_000
            call = _span(executor, ids, trace_id, ids.span(), f"batch.call.{tool}", 1, start,
                         _call_attrs(rng, server, tool))
            for name, attrs in (
                ("policy.check_access", {"policy.is_group": False, "policy.allowed": True}),
                ("approval_gate.check", {"approval.result": "not_required"}),
                ("concurrency.acquire", {"concurrency.wait_ms": 0.01}),
                ("command.send.InvokeToolCommand", {"hangar.route.backend": server,
                                                    "command.timeout": 59.99,
                                                    "hangar.retry.index": "1",
                                                    "command.result": "success"}),
            ):
                _span(executor, ids, trace_id, call, name, 1, start + 100,
                      {"mcp.server.id": server, "gen_ai.tool.name": tool, **attrs})
            _span(tracing, ids, trace_id, call, f"execute_tool {tool}", 3, start + 200,
                  {"mcp.method.name": "tools/call", "gen_ai.operation.name": "execute_tool",
                   "gen_ai.tool.name": tool})
            _span(bus, ids, trace_id, call, "rate_limit.check", 1, start + 300,
                  {"rate_limit.key": "InvokeToolCommand", "rate_limit.allowed": True})
            _span(bus, ids, trace_id, call, "dispatch.InvokeToolCommand", 1, start + 400,
                  {"hangar.dispatch.operation": "InvokeToolCommand",
                   "hangar.dispatch.outcome": "success"})
    _mark_latency(executor.spans[0])
    return req


def _calls(req: ExportTraceServiceRequest) -> list[tuple[bytes, str, str]]:
    """(trace id, server, tool) of every ``batch.call.<tool>`` span of a request."""
    out = []
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                if span.name.startswith("batch.call."):
                    attrs = {kv.key: kv.value.string_value for kv in span.attributes}
                    out.append((span.trace_id, attrs["mcp.server.id"],
                                attrs["gen_ai.tool.name"]))
    return out


def logs(records: int, seed: int = 2) -> ExportLogsServiceRequest:
    """hangar 2.x audit records: ``tool_invocation`` events, 1 in 16 a state change.

    As hangar 2.x does, the calls of ``traces(512)`` are reported by an audit record too
    (same trace id, server and tool), so the spans-to-audit connector pairs them and
    derives nothing for them; the other records are calls without spans in the bench.
    """
    rng = random.Random(seed)
    calls = _calls(traces(512))
    req = ExportLogsServiceRequest()
    _, sl = _hangar_scope(req.resource_logs, "scope_logs", "mcp_hangar.audit")
    for i in range(records):
        rec = sl.log_records.add()
        rec.time_unix_nano = rec.observed_time_unix_nano = T0 + i * 1000
        rec.severity_number = 9
        rec.severity_text = "INFO"
        rec.trace_id = rng.randbytes(16)
        rec.span_id = rng.randbytes(8)
        rec.flags = 3
        server = rng.choice(SERVERS)
        if i % 16 == 15:
            rec.body.string_value = "mcp_server_state_change"
            attrs: dict[str, object] = {
                "mcp.event.name": "mcp_server_state_change", "mcp.server.id": server,
                "mcp.server.state": "ready", "mcp.server.previous_state": "initializing"}
        else:
            tool = rng.choice(TOOLS)
            if calls:
                rec.trace_id, server, tool = calls.pop(0)
            rec.body.string_value = "tool_invocation"
            attrs = {"mcp.event.name": "tool_invocation", "mcp.server.id": server,
                     "gen_ai.tool.name": tool, "mcp.tool.status": "success",
                     "mcp.tool.duration_ms": rng.uniform(1, 900),
                     "hangar.route.backend": server,
                     "gen_ai.usage.input_tokens": rng.randrange(50, 4000),
                     "gen_ai.usage.output_tokens": rng.randrange(10, 1500)}
        rec.attributes.extend(key_value(k, v) for k, v in attrs.items())
    _mark_latency(sl.log_records[0])
    return req


@dataclass(frozen=True)
class Payload:
    """One pre-serialized request, as protobuf and as OTLP/JSON."""

    name: str
    signal: Signal
    items: int
    proto: bytes
    json: bytes


def build(name: str) -> Payload:
    """``traces-512``, ``traces-16``, ``traces-all-512``, ``logs-512`` ..."""
    kind, _, rest = name.partition("-")
    if kind == "traces":
        mix = "hangar"
        if rest.startswith("all-"):
            mix, rest = "all", rest[4:]
        msg: ExportTraceServiceRequest | ExportLogsServiceRequest = traces(int(rest), mix)
        signal = Signal.TRACES
    elif kind == "logs":
        msg, signal = logs(int(rest)), Signal.LOGS
    else:
        raise ValueError(f"unknown payload {name!r}")
    proto = msg.SerializeToString()
    if proto.count(LATENCY_PLACEHOLDER) != 1:
        raise AssertionError("latency placeholder must occur exactly once")
    return Payload(name, signal, int(rest), proto, otlpjson.encode(signal, msg))
