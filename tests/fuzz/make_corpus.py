"""Writes the seed corpus in tests/testdata/fuzz/ (committed; run again when the captures or
the shipped configs change): `.venv/bin/python -m tests.fuzz.make_corpus`.

otlp_protobuf / otlp_json: every real hangar capture (tests/testdata/hangar-captures) as the
bytes a receiver gets, behind the signal byte the targets read (tests/fuzz/targets.py), plus
hand-made hostile shapes from issue 13 (huge token strings, Unicode line breaks, deep
arrays); config_yaml: the shipped configs and recipes; pricing_yaml: the example pricing.
"""

from __future__ import annotations

import hashlib
import json
import shutil

from hangar_otelcol.pdata import Signal
from tests.fuzz.targets import CORPUS, REPO, SIGNALS
from tests.support import captures as hc


def _write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:10]
    (folder / f"{name}-{digest}").write_bytes(data)


def _hostile_logs() -> list[tuple[str, dict]]:
    """Audit records of the shapes issue 13 measured, as OTLP/JSON requests."""
    def record(**attrs: object) -> dict:
        base: dict[str, object] = {"mcp.event.name": "tool_invocation", "mcp.server.id": "llm",
                                   "mcp.tool.name": "summarize", "mcp.tool.status": "success",
                                   "mcp.tool.duration_ms": 12}
        base.update(attrs)
        kv = []
        for key, value in base.items():
            if isinstance(value, bool):
                v: dict[str, object] = {"boolValue": value}
            elif isinstance(value, int):
                v = {"intValue": str(value)}
            elif isinstance(value, float):
                v = {"doubleValue": value}
            else:
                v = {"stringValue": str(value)}
            kv.append({"key": key, "value": v})
        return {"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "mcp-hangar"}}]},
            "scopeLogs": [{"logRecords": [{"timeUnixNano": "1795554865687053692",
                                           "body": {"stringValue": "tool_invocation"},
                                           "attributes": kv}]}]}]}
    return [
        ("tokens-400-digits", record(**{"gen_ai.usage.input_tokens": "9" * 400})),
        ("tokens-superscript", record(**{"gen_ai.usage.input_tokens": "\u00b2"})),
        ("tokens-negative", record(**{"gen_ai.usage.input_tokens": -5000})),
        ("duration-1e30", record(**{"mcp.server.id": "sandbox", "mcp.tool.duration_ms": 1e30})),
        ("line-breaks", record(**{"mcp.tool.name": "a\u2028b\u2029c\u0085d\x0be\x0cf\r\ng",
                                  "mcp.caller.id": "x\u2028y"})),
        ("sender-cost", record(**{"mcp.cost.cents": 10**15, "mcp.caller.id": "admin"})),
    ]


def main() -> None:
    for target in ("otlp_protobuf", "otlp_json", "config_yaml", "pricing_yaml"):
        shutil.rmtree(CORPUS / target, ignore_errors=True)
    for path in hc.files():
        capture = json.loads(path.read_text())
        signal = Signal(capture["signal"])
        prefix = bytes([SIGNALS.index(signal)])
        message = hc.to_message(signal, capture["request"])
        name = f"{path.parent.parent.name}-{path.stem}"
        _write("otlp_protobuf", name, prefix + message.SerializeToString())
        _write("otlp_json", name, prefix + json.dumps(capture["request"]).encode())
    logs = bytes([SIGNALS.index(Signal.LOGS)])
    from hangar_otelcol import otlpjson
    for name, request in _hostile_logs():
        body = json.dumps(request).encode()
        _write("otlp_json", name, logs + body)
        _write("otlp_protobuf", name, logs + otlpjson.decode_wire(Signal.LOGS, body))
    _write("otlp_json", "deep-array", logs + (b'{"resourceLogs":[{"resource":{"attributes":'
                                              b'[{"key":"a","value":' + b'{"arrayValue":'
                                              b'{"values":[' * 40 + b']}}' * 40 + b'}]}}]}'))
    for path in [REPO / "config" / "gateway.yaml", *sorted((REPO / "config" / "recipes").glob(
            "*.yaml"))]:
        _write("config_yaml", path.stem, path.read_bytes())
    _write("pricing_yaml", "example", (REPO / "config" / "pricing.example.yaml").read_bytes())


if __name__ == "__main__":
    main()
