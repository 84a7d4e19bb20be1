"""Shutdown under load: batch processor -> otlp exporter -> real gRPC sink.

Mirrors the service's stop order (producers stop, the processor flushes, the
exporter drains inside ``asyncio.wait_for(shutdown(), deadline)``) and checks
that what was accepted was delivered, or, with a deadline too short for a
stuck downstream, that every item is accounted for as sent or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.pdata import Signal
from hangar_otelcol.registry import default_registry
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.support.otlp import trace_batch
from tests.support.sinks import GrpcSink


def build_pipeline(endpoint: str, telemetry: Telemetry, exporter_raw: dict[str, Any]
                   ) -> tuple[Any, Any]:
    reg = default_registry()
    otlp = reg.get(Kind.EXPORTER, "otlp")
    batch = reg.get(Kind.PROCESSOR, "batch")
    assert otlp is not None and batch is not None
    exp = otlp.create(make_settings(Kind.EXPORTER, "otlp", telemetry), build(
        otlp.config_class, {"endpoint": endpoint, "tls": {"insecure": True}, **exporter_raw}))
    proc = batch.create(make_settings(Kind.PROCESSOR, "batch", telemetry, "traces"), build(
        batch.config_class, {"send_batch_size": 256, "send_batch_max_size": 512,
                             "timeout": "50ms"}), Signal.TRACES, exp)
    return proc, exp


def received_spans(sink: GrpcSink) -> int:
    return sum(len(ss.spans) for r in sink.received
               for rs in ExportTraceServiceRequest.FromString(r.body).resource_spans
               for ss in rs.scope_spans)


def counter(telemetry: Telemetry, name: str) -> float:
    return telemetry.registry.get_sample_value(name, {"exporter": "otlp"}) or 0.0


async def produce(proc: Any, stop: asyncio.Event, accepted: list[int]) -> None:
    i = 0
    while not stop.is_set() and i < 2000:  # bounded even if stop never comes
        n = 1 + i % 50
        try:
            await proc.consume(trace_batch(n, f"p{i}"))
            accepted[0] += n
        except ConsumerError:
            pass
        i += 1
        await asyncio.sleep(0)


async def test_everything_accepted_is_delivered_on_shutdown() -> None:
    sink = await GrpcSink().start()
    sink.script = [0.05] * 20  # a slowish downstream at first
    tel = Telemetry()
    proc, exp = build_pipeline(sink.endpoint, tel, {"sending_queue": {"num_consumers": 4}})
    await exp.start(StandaloneHost())
    await proc.start(StandaloneHost())
    stop, accepted = asyncio.Event(), [0]
    producers = [asyncio.create_task(produce(proc, stop, accepted)) for _ in range(4)]
    await asyncio.sleep(0.3)
    stop.set()  # "receivers stopped"
    await asyncio.gather(*producers)
    await asyncio.wait_for(proc.shutdown(), 10)
    await asyncio.wait_for(exp.shutdown(), 10)
    await sink.stop()
    assert accepted[0] > 0
    assert received_spans(sink) == accepted[0]
    assert counter(tel, "otelcol_exporter_sent_spans_total") == accepted[0]
    assert counter(tel, "otelcol_exporter_send_failed_spans_total") == 0


async def test_short_deadline_with_stuck_downstream_accounts_for_every_item() -> None:
    sink = await GrpcSink().start()
    sink.script = [30.0] * 1000  # the downstream hangs
    tel = Telemetry()
    proc, exp = build_pipeline(sink.endpoint, tel, {
        "timeout": "100ms", "sending_queue": {"num_consumers": 2},
        "retry_on_failure": {"initial_interval": "20ms", "max_interval": "50ms"}})
    await exp.start(StandaloneHost())
    await proc.start(StandaloneHost())
    stop, accepted = asyncio.Event(), [0]
    producer = asyncio.create_task(produce(proc, stop, accepted))
    await asyncio.sleep(0.2)
    stop.set()
    await producer
    await asyncio.wait_for(proc.shutdown(), 5)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(exp.shutdown(), 0.5)  # the service's remaining deadline
    await sink.stop()
    sent = counter(tel, "otelcol_exporter_sent_spans_total")
    failed = counter(tel, "otelcol_exporter_send_failed_spans_total")
    dropped = tel.registry.get_sample_value("otelcol_processor_dropped_spans_total",
                                            {"processor": "batch"}) or 0.0
    assert sent == 0 and accepted[0] > 0
    assert failed + dropped == accepted[0]  # nothing vanished without being counted
