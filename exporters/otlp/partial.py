"""OTLP partial-success responses: counted and logged (rate-limited), never retried."""

from __future__ import annotations

from typing import Any

from hangar_otelcol.pdata import Signal
from hangar_otelcol.problems import ProblemLog


class PartialSuccessLog:
    def __init__(self, problems: ProblemLog, component: str) -> None:
        self._problems = problems
        self._component = component

    def report(self, signal: Signal, rejected: int, message: str) -> None:
        if not rejected and not message:
            return
        self._problems.warn("partial_success", "%s: the server accepted the request only "
                            "partly: %d %s rejected: %s", self._component, rejected,
                            signal.item_name, message or "(no message)",
                            detail=f"{signal.value}:{message}")

    def from_proto(self, signal: Signal, body: bytes) -> None:
        """Raises google.protobuf.message.DecodeError on a body that is not a response."""
        if not body:
            return
        info = signal.info
        response = info.response_type.FromString(body)
        if response.HasField("partial_success"):
            ps = response.partial_success
            self.report(signal, int(getattr(ps, info.rejected_field)), ps.error_message)

    def from_json(self, signal: Signal, body: Any) -> None:
        if not isinstance(body, dict):
            raise ValueError("response body is not a JSON object")
        ps = body.get("partialSuccess") or body.get("partial_success")
        if isinstance(ps, dict):
            info = signal.info
            rejected = ps.get(info.rejected_json) or ps.get(info.rejected_field) or 0
            try:
                count = int(rejected)
            except (TypeError, ValueError):
                count = 0
            self.report(signal, count, str(ps.get("errorMessage") or
                                           ps.get("error_message") or ""))
