"""Which numbered calls (tests/support/workload.py) an OTLP backend received."""

from __future__ import annotations

from hangar_otelcol.pdata import Signal
from tests.support.sinks import GrpcSink
from tests.support.workload import call_number


def forwarded(*sinks: GrpcSink) -> list[int | None]:
    """The call number of every log record the sinks received (None: not a numbered call)."""
    return [call_number(item.trace_id.hex()) for sink in sinks
            for _res, _scope, item in sink.records(Signal.LOGS)]
