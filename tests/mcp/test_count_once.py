"""Every tool call is counted exactly once, proven on the real hangar captures.

The rule (docs/identity-and-cost.md): audit log records count; among spans only the
``batch.call.<tool>`` span (or a foreign ``execute_tool`` span) counts; a counted span
reaches the counters only if no real audit record of the same trace and tool exists
(the ledger's ``claim``, ``hangar_otelcol.ledger``).
"""

from __future__ import annotations

from collections import Counter

import pytest

from hangar_otelcol.ledger.counting import counted_spans, reports
from hangar_otelcol.ledger.memory import MemoryLedger
from hangar_otelcol.mcp import TOOL_EVENT, call_key, index
from tests.support import captures as hc


def _calls_counted(parts: list, ledger: MemoryLedger) -> Counter:
    """What the default pipeline counts: audit records + counted spans nobody audited.

    Spans are claimed after every part was indexed, as the connector does after its hold
    time (audit logs and spans are flushed independently by the sender's SDK).
    """
    counted: Counter = Counter()
    spans = []
    for part in parts:
        invs = index(part)
        ledger.note_now(reports(invs))
        spans += counted_spans(invs)
        counted.update((i.server, i.tool) for i in invs
                       if i.event == TOOL_EVENT and i.counted and not i.is_span)
    for span in spans:
        if not ledger.claim_now(call_key(span)):
            counted[(span.server, span.tool)] += 1
    return counted


@pytest.mark.parametrize("version", ["1.1.0", "1.6.3", "2.34.4", "2.34.4-http"])
def test_each_call_counted_once(version: str) -> None:
    counted = _calls_counted(hc.load(version), MemoryLedger())
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
    ledger = MemoryLedger()
    parts = hc.load(version)
    for p in parts:
        ledger.note_now(reports(index(p)))
    spans = [s for p in parts for s in counted_spans(index(p))]
    assert spans and all(ledger.claim_now(call_key(s)) for s in spans)


def test_span_only_sender_is_not_covered() -> None:
    ledger = MemoryLedger()
    spans = [s for p in hc.load("1.6.3") for s in counted_spans(index(p))]
    assert len(spans) == 6 and not any(ledger.claim_now(call_key(s)) for s in spans)


def test_note_and_claim_are_idempotent() -> None:
    ledger = MemoryLedger()
    parts = hc.load("2.34.4")
    for p in parts:
        ledger.note_now(reports(index(p)))
        ledger.note_now(reports(index(p.copy())))  # a pipeline copy of the same records
    assert len(ledger) == 6
    spans = [s for p in parts for s in counted_spans(index(p))]
    assert all(ledger.claim_now(call_key(s)) for s in spans)
    assert all(ledger.claim_now(call_key(s)) for s in spans)  # asked again: same answer
    # one more, unaudited call of the same tool in the same trace is not covered
    extra = counted_spans(index(parts[2].copy()))[0]
    assert not ledger.claim_now(call_key(extra)._replace(report=b"\x01" * 8))


def test_claim_covered_decides_nothing_for_an_uncovered_span() -> None:
    ledger = MemoryLedger()
    parts = hc.load("2.34.4")
    spans = [s for p in parts for s in counted_spans(index(p))]
    assert not any(ledger.claim_covered_now(call_key(s)) for s in spans)
    for p in parts:  # the audit records arrive later: the spans are still covered
        ledger.note_now(reports(index(p)))
    assert all(ledger.claim_now(call_key(s)) for s in spans)


def test_pairing_stays_within_one_origin() -> None:
    ledger = MemoryLedger()
    parts = hc.load("2.34.4")
    for p in parts:
        ledger.note_now([k._replace(origin="alice") for k in reports(index(p))])
    spans = [s for p in parts for s in counted_spans(index(p))]
    assert not any(ledger.claim_now(call_key(s, "mallory")) for s in spans)
    assert all(ledger.claim_now(call_key(s, "alice")) for s in spans)


def test_ledger_is_bounded_and_expires() -> None:
    now = [0.0]
    ledger = MemoryLedger(ttl=10.0, max_entries=3, clock=lambda: now[0])
    parts = hc.load("2.34.4")
    ledger.note_now([k for p in parts for k in reports(index(p))])
    assert len(ledger) == 3
    now[0] = 11.0
    ledger.note_now([])
    assert len(ledger) == 0
    spans = [s for p in parts for s in counted_spans(index(p))]
    assert not any(ledger.claim_now(call_key(s)) for s in spans)


def test_reading_has_no_side_effects() -> None:
    """Indexing a part tells no ledger anything: the tool_audit connector (or an exporter
    with count_spans) notes audit records in the ledger its config names."""
    ledger = MemoryLedger()
    parts = hc.load("1.1.0")
    for p in parts:
        index(p)
    assert len(ledger) == 0
    spans = [s for p in parts for s in counted_spans(index(p))]
    assert not any(ledger.claim_now(call_key(s)) for s in spans)
