"""What an exporter that counts calls (Prometheus, compliance) counts, with its ledger."""

from __future__ import annotations

from hangar_otelcol.ledger import Ledger
from hangar_otelcol.mcp import TOOL_EVENT, CallKey, InvocationIndex, ToolInvocation, call_key


def is_report(inv: ToolInvocation) -> bool:
    """A real audit record of a tool call (not one derived from a span) that names its call
    (a trace id: records without one cannot pair with a span)."""
    return not inv.is_span and inv.event == TOOL_EVENT and not inv.derived and bool(inv.trace_id)


def reports(invocations: InvocationIndex) -> list[CallKey]:
    """What the ledger notes for these invocations: their real audit records."""
    return [call_key(inv) for inv in invocations if is_report(inv)]


def counted_spans(invocations: InvocationIndex) -> list[ToolInvocation]:
    """The spans among ``invocations`` that would count a call (not nested, not wrappers)."""
    return [inv for inv in invocations if inv.is_span and inv.counted and inv.event == TOOL_EVENT]


async def counted(invocations: InvocationIndex, ledger: Ledger | None
                  ) -> list[ToolInvocation]:
    """The invocations to count, each call once.

    Audit records and state changes always count. With a ledger, real audit records are
    noted in it, and a counted span counts only if no audit record covers its call (which
    the span then uses up); without one, spans are not counted here (the ``tool_audit``
    connector turns them into audit records instead).
    """
    if ledger is None:
        return [inv for inv in invocations if inv.counted and not inv.is_span]
    noted = reports(invocations)
    if noted:
        await ledger.note(noted)
    spans = counted_spans(invocations)
    covered: set[int] = set()
    if spans:
        answers = await ledger.claim([call_key(inv) for inv in spans])
        covered = {id(inv) for inv, is_covered in zip(spans, answers, strict=True)
                   if is_covered}
    return [inv for inv in invocations if inv.counted and id(inv) not in covered]
