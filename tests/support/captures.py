"""Load the real hangar OTLP captures (../shared/reference/hangar-captures) as Parts.

Shared by tests/invocation, tests/caller, tests/cost and tests/prometheus. Uses
google.protobuf.json_format (slow, but independent of the gateway's own OTLP/JSON
decoder) after turning the hex trace/span ids back into base64.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from hangar_otelcol.pdata import REQUEST_TYPES, Part, Sender, Signal

_DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "testdata/hangar-captures"
ROOT = Path(os.environ.get("HANGAR_CAPTURES", _DEFAULT_ROOT))

#: capture folder per hangar version (the three that send OTLP)
VERSIONS = {
    "1.1.0": "v1.1.0/served-PATCHED-otel/otlp",
    "1.6.3": "v1.6.3/otlp-grpc",
    "2.34.4": "v2.34.4/otlp-grpc",
    "2.34.4-http": "v2.34.4/otlp-http-protobuf",
}

#: what the harness client did in every run (README): add, multiply, add, divide, slow, add
CALLS = [("math", "add"), ("math", "multiply"), ("math", "add"), ("math", "divide"),
         ("math", "slow"), ("math", "add")]


def available() -> bool:
    return ROOT.is_dir()


def _hex_to_b64(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                out[k] = base64.b64encode(bytes.fromhex(v)).decode() if v else ""
            else:
                out[k] = _hex_to_b64(v)
        return out
    if isinstance(obj, list):
        return [_hex_to_b64(x) for x in obj]
    return obj


def load(version: str, sender: Sender | None = None) -> list[Part]:
    """Every request of one capture, in arrival order, as Parts with their wire bytes."""
    parts = []
    for path in sorted((ROOT / VERSIONS[version]).glob("*.json")):
        doc = json.loads(path.read_text())
        signal = Signal(doc["signal"])
        message = json_format.Parse(json.dumps(_hex_to_b64(doc["request"])),
                                    REQUEST_TYPES[signal]())
        meta = doc.get("meta", {}).get("metadata") or doc.get("meta", {}).get("headers") or {}
        snd = sender or Sender(transport=doc.get("transport", ""), peer="127.0.0.1",
                               metadata={k.lower(): v for k, v in meta.items()})
        parts.append(Part(message, message.SerializeToString(), snd))
    return parts


def signal_of(part: Part) -> Signal:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    return Signal.TRACES if isinstance(part.message, ExportTraceServiceRequest) else Signal.LOGS


def attrs(record: Any) -> dict[str, Any]:
    """A record's attributes as a plain dict (for assertions)."""
    out = {}
    for kv in record.attributes:
        which = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, which) if which else None
    return out
