"""The failure counters the alerts take rate()/increase() of exist at 0 before the first
failure (hangar_otelcol/telemetry.py, exporters/compliance/exporter.py): Prometheus cannot
see the first increment of a series that is born with it."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.exposition import generate_latest

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.exporters.compliance.config import ComplianceConfig
from hangar_otelcol.exporters.compliance.factory import FACTORY as COMPLIANCE
from hangar_otelcol.pdata import Signal
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import make_settings
from tests.support.metrics import samples


def scraped(telemetry: Telemetry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return samples(generate_latest(telemetry.registry).decode())


def test_a_receivers_refused_series_exists_from_its_first_accepted_request() -> None:
    telemetry = Telemetry()
    receiver = telemetry.for_component("receiver", "otlp")
    assert scraped(telemetry) == {}  # nothing before any data: no series of an idle signal
    receiver.accepted(Signal.LOGS, 5, "grpc")
    got = scraped(telemetry)
    labels = frozenset({"receiver": "otlp", "transport": "grpc"}.items())
    assert got[("otelcol_receiver_accepted_log_records_total", labels)] == 5
    assert got[("otelcol_receiver_refused_log_records_total", labels)] == 0
    # and the first refusal is an increase from 0
    receiver.refused(Signal.LOGS, 2, "grpc")
    assert scraped(telemetry)[("otelcol_receiver_refused_log_records_total", labels)] == 2
    # another signal has no series until it is received
    assert not any(name.endswith("_spans_total") for name, _ in got)


def test_an_exporters_failure_series_exist_from_its_first_send() -> None:
    telemetry = Telemetry()
    exporter = telemetry.for_component("exporter", "otlp")
    exporter.sent(Signal.TRACES, 3)
    got = scraped(telemetry)
    labels = frozenset({"exporter": "otlp"}.items())
    assert got[("otelcol_exporter_sent_spans_total", labels)] == 3
    assert got[("otelcol_exporter_send_failed_spans_total", labels)] == 0
    assert got[("otelcol_exporter_enqueue_failed_spans_total", labels)] == 0


def test_a_compliance_exporters_record_series_exist_when_it_is_made(tmp_path: Path) -> None:
    telemetry = Telemetry()
    config = build(ComplianceConfig, {"format": "cef", "output": str(tmp_path / "out.cef")},
                   "exporters.compliance")
    COMPLIANCE.create(make_settings(Kind.EXPORTER, "compliance", telemetry), config)
    got = scraped(telemetry)
    labels = frozenset({"exporter": "compliance", "format": "cef", "output": "file"}.items())
    for what in ("written", "failed", "dropped", "resent", "duplicates"):
        assert got[(f"otelcol_exporter_compliance_records_{what}_total", labels)] == 0, what
