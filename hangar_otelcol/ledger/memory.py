"""The in-process ledger: bounded, time-limited memory of reported calls and claims."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from hangar_otelcol.mcp.claims import CallKey

_Call = tuple[str, bytes, str]
_Report = tuple[str, bytes, bytes]


class MemoryLedger:
    """Entries expire after ``ttl`` seconds; at most ``max_entries`` of each kind are kept
    (the oldest go first). Safe to use from one event loop."""

    def __init__(self, ttl: float = 600.0, max_entries: int = 200_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        # noted audit record -> (noted at, its call)
        self._records: OrderedDict[_Report, tuple[float, _Call]] = OrderedDict()
        # call -> audit records not yet claimed by a span; and still remembered
        self._open: dict[_Call, int] = {}
        self._live: dict[_Call, int] = {}
        # claimed span -> (claimed at, answer)
        self._claims: OrderedDict[_Report, tuple[float, bool]] = OrderedDict()

    # -- the Ledger protocol ----------------------------------------------------------------

    async def note(self, reports: Sequence[CallKey]) -> None:
        self.note_now(reports)

    async def claim(self, spans: Sequence[CallKey]) -> list[bool]:
        return [self.claim_now(s) for s in spans]

    async def claim_covered(self, spans: Sequence[CallKey]) -> list[bool]:
        return [self.claim_covered_now(s) for s in spans]

    # -- synchronous forms (the in-process ledger never waits) -----------------------------

    def note_now(self, reports: Sequence[CallKey]) -> None:
        now = self._clock()
        self._expire(now)
        records = self._records
        for key in reports:
            report = key.report_id
            if report in records:
                continue
            call = key.call
            records[report] = (now, call)
            self._open[call] = self._open.get(call, 0) + 1
            self._live[call] = self._live.get(call, 0) + 1
            if len(records) > self.max_entries:
                self._drop_record(records.popitem(last=False)[1][1])

    def claim_now(self, span: CallKey) -> bool:
        report = span.report_id
        previous = self._claims.get(report)
        if previous is not None:
            return previous[1]
        now = self._clock()
        self._expire(now)
        call = span.call
        left = self._open.get(call, 0)
        covered = left > 0
        if covered:
            if left == 1:
                del self._open[call]
            else:
                self._open[call] = left - 1
        self._claims[report] = (now, covered)
        if len(self._claims) > self.max_entries:
            self._claims.popitem(last=False)
        return covered

    def claim_covered_now(self, span: CallKey) -> bool:
        previous = self._claims.get(span.report_id)
        if previous is not None:
            return previous[1]
        if self._open.get(span.call, 0) > 0:
            return self.claim_now(span)
        return False

    def clear(self) -> None:
        self._records.clear()
        self._open.clear()
        self._live.clear()
        self._claims.clear()

    def __len__(self) -> int:
        return len(self._records)

    # -- bounds -----------------------------------------------------------------------------

    def _drop_record(self, call: _Call) -> None:
        # which record of a call a span claimed is unknown (multiset), so keep
        # "unclaimed <= remembered" rather than guessing
        live = self._live.get(call, 0) - 1
        if live <= 0:
            self._live.pop(call, None)
            self._open.pop(call, None)
        else:
            self._live[call] = live
            if self._open.get(call, 0) > live:
                self._open[call] = live

    def _expire(self, now: float) -> None:
        horizon = now - self.ttl
        records = self._records
        while records:
            noted, call = next(iter(records.values()))
            if noted >= horizon:
                break
            records.popitem(last=False)
            self._drop_record(call)
        claims = self._claims
        while claims:
            claimed = next(iter(claims.values()))[0]
            if claimed >= horizon:
                break
            claims.popitem(last=False)
