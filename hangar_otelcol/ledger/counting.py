"""What an exporter that counts calls (Prometheus, compliance) counts, with its ledger."""

from __future__ import annotations

from hangar_otelcol.ledger import Ledger
from hangar_otelcol.mcp import TOOL_EVENT, InvocationIndex, ToolInvocation, call_key


def is_report(inv: ToolInvocation) -> bool:
    """A real audit record of a tool call (not one derived from a span)."""
    return not inv.is_span and inv.event == TOOL_EVENT and not inv.derived


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
    reports = [call_key(inv) for inv in invocations if is_report(inv) and inv.trace_id]
    if reports:
        await ledger.note(reports)
    spans = [inv for inv in invocations
             if inv.is_span and inv.counted and inv.event == TOOL_EVENT]
    covered: set[int] = set()
    if spans:
        answers = await ledger.claim([call_key(inv) for inv in spans])
        covered = {id(inv) for inv, is_covered in zip(spans, answers, strict=True)
                   if is_covered}
    return [inv for inv in invocations if inv.counted and id(inv) not in covered]
