"""Every tool call is counted exactly once, proven on the real hangar captures.

The rule (docs/identity-and-cost.md): audit log records count; among spans only the
``batch.call.<tool>`` span (or a foreign ``execute_tool`` span) counts; a counted span
reaches the counters only if no real audit record of the same trace and tool exists
(``AUDIT_LEDGER.claim``).
"""

from __future__ import annotations

from collections import Counter

import pytest

from hangar_otelcol import invocation as inv_mod
from hangar_otelcol.invocation import TOOL_EVENT, AuditLedger, index
from tests.support import captures as hc


def _calls_counted(parts: list, ledger: AuditLedger) -> Counter:
    """What the default pipeline counts: audit records + counted spans nobody audited.

    Spans are claimed after every part was indexed, as the connector does after its hold
    time (audit logs and spans are flushed independently by the sender's SDK).
    """
    counted: Counter = Counter()
    spans = []
    for part in parts:
        invs = index(part)
        ledger.note(invs)
        for inv in invs:
            if inv.event != TOOL_EVENT or not inv.counted:
                continue
            if inv.is_span:
                spans.append(inv)
            else:
                counted[(inv.server, inv.tool)] += 1
    for span in spans:
        if not ledger.claim(span):
            counted[(span.server, span.tool)] += 1
    return counted


@pytest.mark.parametrize("version", ["1.1.0", "1.6.3", "2.34.4", "2.34.4-http"])
def test_each_call_counted_once(version: str) -> None:
    counted = _calls_counted(hc.load(version), AuditLedger())
    assert counted == Counter(hc.CALLS)


@pytest.mark.parametrize("version", ["1.1.0", "1.6.3", "2.34.4"])
def test_one_counted_span_per_call(version: str) -> None:
    spans = [i for p in hc.load(version) if hc.signal_of(p).value == "traces"
             for i in index(p) if i.counted]
    assert Counter((s.server, s.tool) for s in spans) == Counter(hc.CALLS)
    assert all(s.span_name.startswith("batch.call.") for s in spans)


def test_nested_and_wrapper_spans_are_indexed_but_not_counted() -> None:
    invs = [i for p in hc.load("2.34.4") for i in index(p) if i.is_span]
    wrappers = [i for i in invs if i.tool == "hangar_call"]
    nested = [i for i in invs if i.span_name.startswith("execute_tool ")]
    assert len(wrappers) == 5 and all(i.wrapper and not i.counted for i in wrappers)
    assert len(nested) == 6 and not any(i.counted for i in nested)


@pytest.mark.parametrize("version", ["1.1.0", "2.34.4"])
def test_audit_records_cover_their_spans(version: str) -> None:
    ledger = AuditLedger()
    parts = hc.load(version)
    for p in parts:
        if hc.signal_of(p).value == "logs":
            ledger.note(index(p))
    spans = [i for p in parts for i in index(p) if i.is_span and i.counted]
    assert spans and all(ledger.claim(s) for s in spans)


def test_span_only_sender_is_not_covered() -> None:
    ledger = AuditLedger()
    spans = [i for p in hc.load("1.6.3") for i in index(p) if i.counted]
    assert len(spans) == 6 and not any(ledger.claim(s) for s in spans)


def test_note_and_claim_are_idempotent() -> None:
    ledger = AuditLedger()
    parts = hc.load("2.34.4")
    for p in parts:
        if hc.signal_of(p).value == "logs":
            ledger.note(index(p))
            ledger.note(index(p.copy()))  # a pipeline copy of the same records
    assert len(ledger) == 6
    spans = [i for p in parts for i in index(p) if i.is_span and i.counted]
    assert all(ledger.claim(s) for s in spans)
    assert all(ledger.claim(s) for s in spans)  # asked again: same answer
    # one more, unaudited call of the same tool in the same trace is not covered
    extra = index(parts[2].copy())
    extra_span = next(i for i in extra if i.counted)
    extra_span.span_id = b"\x01" * 8
    assert not ledger.claim(extra_span)


def test_ledger_is_bounded_and_expires() -> None:
    now = [0.0]
    ledger = AuditLedger(ttl=10.0, max_entries=3, clock=lambda: now[0])
    logs = [i for p in hc.load("2.34.4") if hc.signal_of(p).value == "logs"
            for i in index(p) if i.event == TOOL_EVENT]
    ledger.note(logs)
    assert len(ledger) == 3
    now[0] = 11.0
    ledger.note([])
    assert len(ledger) == 0
    spans = [i for p in hc.load("2.34.4") for i in index(p) if i.is_span and i.counted]
    assert not any(ledger.claim(s) for s in spans)


def test_index_feeds_the_process_ledger() -> None:
    inv_mod.AUDIT_LEDGER.clear()
    parts = hc.load("1.1.0")
    for p in parts:
        index(p)
    spans = [i for p in parts for i in index(p) if i.is_span and i.counted]
    assert all(inv_mod.AUDIT_LEDGER.claim(s) for s in spans)
    inv_mod.AUDIT_LEDGER.clear()
