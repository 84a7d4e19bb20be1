"""The real hangar OTLP captures in tests/testdata/hangar-captures (see its README).

Each capture file is one export request as OTLP/JSON (hex ids). Protobuf messages are
made with google.protobuf.json_format after turning the hex ids into the base64 it expects
(independent of the gateway's own OTLP/JSON codec). A missing capture is an error with the
path it looked for, never a reason to skip.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from hangar_otelcol.pdata import REQUEST_TYPES, UNKNOWN_SENDER, Batch, Part, Sender, Signal
from tests.support.otlp import attrs, items
from tests.support.paths import TESTDATA

__all__ = ["CALLS", "CALLS_2X", "ROOT", "VERSIONS", "Capture", "attrs", "batches", "captures",
           "files", "load", "path", "read", "signal_of", "to_message"]

ROOT = TESTDATA / "hangar-captures"

#: capture folder per hangar version (the three that send OTLP), as in the reference captures
VERSIONS = {
    "1.1.0": "v1.1.0/served-PATCHED-otel/otlp",
    "1.6.3": "v1.6.3/otlp-grpc",
    "2.34.4": "v2.34.4/otlp-grpc",
    "2.34.4-http": "v2.34.4/otlp-http-protobuf",
}

#: what the harness client did in every run (README): add, multiply, add, divide, slow, add
CALLS = [("math", "add"), ("math", "multiply"), ("math", "add"), ("math", "divide"),
         ("math", "slow"), ("math", "add")]
#: the same calls as (tool, status), as hangar 1.6.3 and 2.x report them
CALLS_2X = [("add", "success"), ("multiply", "success"), ("add", "success"),
            ("divide", "error"), ("slow", "error"), ("add", "success")]

_IDS = ("traceId", "spanId", "parentSpanId")


def path(relative: str) -> Path:
    """A file or folder below ROOT; an error naming it if it is not there."""
    found = ROOT / relative
    if not found.exists():
        raise FileNotFoundError(f"hangar capture missing: {found} (the captures the tests read "
                                "are committed under tests/testdata/hangar-captures)")
    return found


def files(version: str | None = None) -> list[Path]:
    """The OTLP request files of one version in arrival order; of every version (in the
    order of VERSIONS) if ``version`` is None."""
    if version is None:
        return [f for v in VERSIONS for f in files(v)]
    found = sorted(path(VERSIONS[version]).glob("*.json"))
    if not found:
        raise FileNotFoundError(f"no hangar capture files in {ROOT / VERSIONS[version]}")
    return found


def _hex_to_b64(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: base64.b64encode(bytes.fromhex(v)).decode()
                if k in _IDS and isinstance(v, str) else _hex_to_b64(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_to_b64(x) for x in node]
    return node


def to_message(signal: Signal, request: dict[str, Any]) -> Any:
    """An OTLP/JSON request (hex ids) as its protobuf message, by json_format."""
    return json_format.ParseDict(_hex_to_b64(request), REQUEST_TYPES[signal]())


@dataclass(frozen=True)
class Capture:
    """One captured export request."""

    path: Path
    doc: dict[str, Any]

    @property
    def signal(self) -> Signal:
        return Signal(self.doc["signal"])

    @property
    def transport(self) -> str:
        return str(self.doc.get("transport", ""))

    @property
    def request(self) -> dict[str, Any]:
        """The request as captured (OTLP/JSON)."""
        return self.doc["request"]  # type: ignore[no-any-return]

    @property
    def metadata(self) -> dict[str, str]:
        """gRPC metadata or HTTP headers it was sent with, keys in lower case."""
        meta = self.doc.get("meta", {})
        return {k.lower(): v for k, v in (meta.get("metadata") or meta.get("headers")
                                          or {}).items()}

    def message(self) -> Any:
        """A new protobuf message of the request."""
        return to_message(self.signal, self.request)

    @cached_property
    def wire(self) -> bytes:
        return self.message().SerializeToString()  # type: ignore[no-any-return]


def read(file: Path) -> Capture:
    return Capture(file, json.loads(file.read_text()))


def captures(version: str | None = None) -> list[Capture]:
    return [read(f) for f in files(version)]


def load(version: str, sender: Sender | None = None, run: int = 0) -> list[Part]:
    """Every request of one version, in arrival order, as Parts with their wire bytes; the
    sender is the captured one (transport, 127.0.0.1, metadata) unless ``sender`` is given.

    ``run`` > 0 gives the same calls made again: every trace id is replaced consistently
    (so records still pair with their spans), so the records are new ones with new ids.
    """
    parts = []
    for capture in captures(version):
        message = capture.message()
        if run:
            _retrace(message, run)
        snd = sender or Sender(transport=capture.transport, peer="127.0.0.1",
                               metadata=capture.metadata)
        parts.append(Part(message, message.SerializeToString(), snd))
    return parts


def _retrace(message: Any, run: int) -> None:
    signal = next(s for s, t in REQUEST_TYPES.items() if isinstance(message, t))
    for _resource, _scope, item in items(signal, message):
        if item.trace_id:
            item.trace_id = hashlib.blake2b(item.trace_id + run.to_bytes(4, "little"),
                                            digest_size=16).digest()


def batches(version: str, sender: Sender = UNKNOWN_SENDER) -> list[Batch]:
    """One Batch per captured request, in arrival order."""
    return [Batch(signal_of(p), [p]) for p in load(version, sender)]


def signal_of(part: Part) -> Signal:
    return next(s for s, t in REQUEST_TYPES.items() if isinstance(part.message, t))
