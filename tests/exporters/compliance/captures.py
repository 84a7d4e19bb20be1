"""Load the real hangar OTLP captures as Parts (hex ids -> base64 for json_format)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from hangar_otelcol.pdata import REQUEST_TYPES, Batch, Part, Signal

_DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "testdata/hangar-captures"
ROOT = Path(os.environ.get("HANGAR_CAPTURES", _DEFAULT_ROOT))
VERSIONS = {
    "1.1.0": "v1.1.0/served-PATCHED-otel/otlp",
    "1.6.3": "v1.6.3/otlp-grpc",
    "2.34.4": "v2.34.4/otlp-grpc",
    "2.34.4-http": "v2.34.4/otlp-http-protobuf",
}
#: the harness's calls, in order (captures README): (tool, status)
CALLS_2X = [("add", "success"), ("multiply", "success"), ("add", "success"),
            ("divide", "error"), ("slow", "error"), ("add", "success")]


def _hex_to_b64(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if v else "")
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else _hex_to_b64(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hex_to_b64(x) for x in obj]
    return obj


def batches(version: str) -> list[Batch]:
    """One Batch per captured request, in arrival order."""
    out = []
    for path in sorted((ROOT / VERSIONS[version]).glob("*.json")):
        doc = json.loads(path.read_text())
        signal = Signal(doc["signal"])
        msg = json_format.Parse(json.dumps(_hex_to_b64(doc["request"])), REQUEST_TYPES[signal]())
        out.append(Batch(signal, [Part(msg, msg.SerializeToString())]))
    return out
