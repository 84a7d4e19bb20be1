"""``CallKey``: what identifies one tool call when it is counted once.

A call can be reported twice (hangar 2.x: an audit log record and a ``batch.call.<tool>``
span). An audit record carries the trace id of the call's active span and the tool name,
so (origin, trace id, tool) pairs a record with its span; several calls of one tool in one
trace pair as a multiset. ``report`` (the record's or span's own span id) tells two
reports apart, so noting or claiming the same record twice changes nothing.

``origin`` limits pairing to one sender: a record can only cover a span that came from the
same authenticated principal and the same resource (``service.name``), so a forged audit
record with a known trace id and tool (trace ids travel to MCP servers in
``traceparent``; they are not secret) cannot make another sender's call disappear
(docs/security.md). Unauthenticated senders share the principal part "".
"""

from __future__ import annotations

from typing import NamedTuple

from hangar_otelcol.mcp.view import ToolInvocation


class CallKey(NamedTuple):
    origin: str
    trace_id: bytes
    tool: str
    #: the reporting record's own span id
    report: bytes

    @property
    def call(self) -> tuple[str, bytes, str]:
        """What pairs an audit record with a span."""
        return self.origin, self.trace_id, self.tool

    @property
    def report_id(self) -> tuple[str, bytes, bytes]:
        """What makes two reports the same report."""
        return self.origin, self.trace_id, self.report


def origin_of(inv: ToolInvocation) -> str:
    """``<authenticator>:<subject>|<service.name>`` of the request the record came in."""
    part = inv.part_ref()
    principal = part.sender.principal if part is not None else None
    return f"{principal.name if principal is not None else ''}|{inv.service_name or ''}"


def call_key(inv: ToolInvocation, origin: str | None = None) -> CallKey:
    return CallKey(origin_of(inv) if origin is None else origin, inv.trace_id,
                   inv.tool or "", inv.span_id)
