"""The real hangar payloads in shared/reference/hangar-captures, as protobuf requests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from hangar_otelcol.pdata import REQUEST_TYPES, Signal

CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "hangar-captures"


def capture_files() -> list[Path]:
    return sorted(CAPTURES.glob("v*/**/otlp*/*.json")) if CAPTURES.exists() else []


def load_capture(path: Path) -> tuple[Signal, Any]:
    doc = json.loads(path.read_text())
    signal = Signal(doc["signal"])

    def fix(node: Any) -> None:  # proto3 JSON wants base64 ids; OTLP/JSON has hex
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    request = doc["request"]
    fix(request)
    return signal, json_format.ParseDict(request, REQUEST_TYPES[signal]())
