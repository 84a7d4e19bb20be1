"""Measure OTLP/JSON decode speed: spans/s for a 512-span request (not a test).

Run: .venv/bin/python -m tests.runtime.bench_decode
The request shape is the one of python-performance.md §1: 1 resource (4 attributes),
512 spans with ids, name, kind, times, status and 12 attributes (9 strings, 3 ints).
"""

from __future__ import annotations

import os
import random
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol import otlpjson
from hangar_otelcol.pdata import Signal


def build_request(n: int = 512, seed: int = 1) -> ExportTraceServiceRequest:
    rnd = random.Random(seed)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for k, v in [("service.name", "mcp-hangar"), ("service.version", "2.34.4"),
                 ("host.name", "gw-1"), ("deployment.environment", "prod")]:
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = k, v
    ss = rs.scope_spans.add()
    ss.scope.name = "mcp-python-sdk"
    for _ in range(n):
        sp = ss.spans.add()
        sp.trace_id = os.urandom(16)
        sp.span_id = os.urandom(8)
        sp.parent_span_id = os.urandom(8)
        sp.name = "tools/call get_weather"
        sp.kind = 2
        sp.start_time_unix_nano = 1795554865687053692 + rnd.randrange(10**9)
        sp.end_time_unix_nano = sp.start_time_unix_nano + rnd.randrange(10**8)
        sp.status.code = 1
        strings = [("mcp.server.id", f"server-{rnd.randrange(8)}"),
                   ("mcp.tool.name", f"tool-{rnd.randrange(12)}"),
                   ("mcp.method.name", "tools/call"),
                   ("mcp.caller.id", f"caller-{rnd.randrange(40)}"),
                   ("mcp.session.id", os.urandom(8).hex()),
                   ("mcp.request.id", os.urandom(6).hex()),
                   ("rpc.system", "jsonrpc"), ("network.transport", "tcp"),
                   ("gen_ai.request.model", "gpt-4o-mini")]
        for k, v in strings:
            kv = sp.attributes.add()
            kv.key, kv.value.string_value = k, v
        for k, v in [("gen_ai.usage.input_tokens", rnd.randrange(5000)),
                     ("gen_ai.usage.output_tokens", rnd.randrange(2000)),
                     ("server.port", 8080)]:
            kv = sp.attributes.add()
            kv.key, kv.value.int_value = k, v
    return req


def rate(fn, spans: int, seconds: float = 1.0) -> float:
    fn()
    best = 0.0
    for _ in range(3):
        n, start = 0, time.process_time()
        while time.process_time() - start < seconds / 3:
            fn()
            n += 1
        best = max(best, n * spans / (time.process_time() - start))
    return best


def main() -> None:
    req = build_request()
    data = otlpjson.encode(Signal.TRACES, req)
    assert otlpjson.decode(Signal.TRACES, data) == req
    print(f"request: 512 spans, {req.ByteSize()} bytes protobuf, {len(data)} bytes JSON")
    import orjson
    from google.protobuf import json_format
    cases = [
        ("orjson.loads only", lambda: orjson.loads(data)),
        ("otlpjson.decode_wire", lambda: otlpjson.decode_wire(Signal.TRACES, data)),
        ("otlpjson.decode", lambda: otlpjson.decode(Signal.TRACES, data)),
        ("otlpjson.encode", lambda: otlpjson.encode(Signal.TRACES, req)),
        ("json_format.Parse (wrong ids)",
         lambda: json_format.Parse(data, ExportTraceServiceRequest())),
    ]
    for name, fn in cases:
        print(f"{name:<32}{rate(fn, 512):>12,.0f} spans/s")

if __name__ == "__main__":
    main()
