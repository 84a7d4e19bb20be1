"""The count-once ledger: which calls a real audit record reported, and whether a span's
call is covered by one.

Why: hangar 2.x (and a patched 1.1.0) report a call twice, as an audit log record and as
a ``batch.call.<tool>`` span, while 1.6.x sends the span only. Whoever turns spans into
counted records (the ``tool_audit`` connector, or an exporter that counts spans) asks the
ledger whether a real audit record covers the span's call, so that the call is counted
once. The state is explicit: components name a ledger extension in their config
(``ledger: call_ledger``) or get the service's default in-process one; a shared
implementation plugs in here for several processes or replicas (docs/architecture.md).

``note`` and ``claim`` are idempotent per report (``CallKey.report_id``): the same record
seen through two pipeline copies is noted once, the same span claimed twice gets the same
answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hangar_otelcol.mcp.claims import CallKey

if TYPE_CHECKING:
    from hangar_otelcol.component import Host

#: the capability a ledger extension declares (``Factory.provides``)
CAPABILITY = "ledger"


@runtime_checkable
class Ledger(Protocol):
    async def note(self, reports: Sequence[CallKey]) -> None:
        """Real audit records reported these calls."""

    async def claim(self, spans: Sequence[CallKey]) -> list[bool]:
        """For each (counted) span: True if a real audit record covers its call, which the
        span then uses up; False means the span's call is to be counted from the span."""

    async def claim_covered(self, spans: Sequence[CallKey]) -> list[bool]:
        """``claim`` for the spans whose call is covered already; False for the others,
        for which nothing is decided yet (a later ``claim`` may find a late record)."""


def ledger_from(host: Host, ref: str) -> Ledger:
    """The ledger a component named in its config (``ledger: <extension id>``), or the
    service's default in-process ledger when ``ref`` is empty."""
    found = host.extension(ref) if ref else host.default_extension(CAPABILITY)
    if not isinstance(found, Ledger):
        what = f"extension {ref!r}" if ref else "the service"
        raise ValueError(f"{what} provides no ledger")
    return found


__all__ = ["CAPABILITY", "CallKey", "Ledger", "ledger_from"]
