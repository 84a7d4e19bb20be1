"""The ``batch`` processor: size and time triggers, max-size splitting, partitioning,
acknowledgements held until the batch is handed on, downstream errors, shutdown flush. The
next consumer is the project's CollectingConsumer.

Each ``consume`` call is one receiver request; with ``ack_after_export`` (the default) it
returns only once its data was handed on, so requests that are to share a batch are sent
concurrently, as receivers do."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.pdata import Batch, Part, Sender, Signal, decode
from hangar_otelcol.processors.batch.config import BatchConfig
from hangar_otelcol.processors.batch.split import split_part
from hangar_otelcol.registry import default_registry
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, RefusingConsumer, make_settings


def traces(n: int, tag: str = "", resources: int = 1, scopes: int = 1,
           sender: Sender | None = None) -> Batch:
    req = ExportTraceServiceRequest()
    k = 0
    for r in range(resources):
        rs = req.resource_spans.add(schema_url=f"r{r}")
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", f"svc{r}"
        for s in range(scopes):
            ss = rs.scope_spans.add()
            ss.scope.name = f"scope{s}"
            for _ in range(n):
                ss.spans.add(name=f"{tag}{k}")
                k += 1
    part = decode(Signal.TRACES, req.SerializeToString(), sender or Sender())
    return Batch(Signal.TRACES, [part])


def names(batch: Batch) -> list[str]:
    return [s.name for p in batch.parts for rs in p.message.resource_spans
            for ss in rs.scope_spans for s in ss.spans]


def make(raw: dict[str, Any], nxt: Any = None, telemetry: Telemetry | None = None,
         signal: Signal = Signal.TRACES) -> tuple[Any, CollectingConsumer, Telemetry]:
    factory = default_registry().get(Kind.PROCESSOR, "batch")
    assert factory is not None
    cfg = build(factory.config_class, raw, "processors.batch")
    telemetry = telemetry or Telemetry()
    nxt = nxt or CollectingConsumer()
    proc = factory.create(make_settings(Kind.PROCESSOR, "batch", telemetry, "traces"), cfg,
                          signal, nxt)
    return proc, nxt, telemetry


def sample(telemetry: Telemetry, name: str) -> float:
    return telemetry.registry.get_sample_value(name, {"processor": "batch"}) or 0.0


def requests(proc: Any, batches: list[Batch]) -> list[asyncio.Task[None]]:
    """Each batch as its own caller (a receiver request), started in order."""
    return [asyncio.ensure_future(proc.consume(b)) for b in batches]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_defaults_and_validation() -> None:
    c = BatchConfig()
    assert (c.send_batch_size, c.timeout, c.send_batch_max_size) == (8192, 0.2, 0)
    with pytest.raises(ConfigError) as err:
        build(BatchConfig, {"send_batch_size": 100, "send_batch_max_size": 10,
                            "timeout": "soon"}, "processors.batch")
    assert "processors.batch.send_batch_max_size: must be greater than or equal to " \
           "send_batch_size (10 < 100)" in str(err.value)
    assert "processors.batch.timeout: invalid duration 'soon'" in str(err.value)


async def test_size_trigger_concatenates_parts_without_copying() -> None:
    proc, out, tel = make({"send_batch_size": 10, "timeout": "10s"})
    inputs = [traces(4, f"b{i}-") for i in range(3)]
    wires = [b.parts[0].wire() for b in inputs]
    await asyncio.wait_for(asyncio.gather(*requests(proc, inputs)), 5)
    assert len(out.batches) == 1  # 12 >= 10 sent at once, no waiting for the timer
    sent = out.batches[0]
    assert [p for p in sent.parts] == [b.parts[0] for b in inputs]  # the same Part objects
    assert [p.wire() for p in sent.parts] == wires and not any(p.mutated for p in sent.parts)
    assert sample(tel, "otelcol_processor_batch_batch_size_trigger_send_total") == 1
    assert out.items() == 12
    await proc.shutdown()


async def test_timeout_trigger() -> None:
    proc, out, tel = make({"send_batch_size": 1000, "timeout": "50ms"})
    callers = requests(proc, [traces(3, "a"), traces(2, "b")])
    await settle()
    assert out.batches == [] and not any(c.done() for c in callers)  # held, not answered
    await asyncio.wait_for(asyncio.gather(*callers), 5)
    assert len(out.batches) == 1 and names(out.batches[0]) == ["a0", "a1", "a2", "b0", "b1"]
    assert sample(tel, "otelcol_processor_batch_timeout_trigger_send_total") == 1
    await proc.shutdown()


async def test_max_size_moves_whole_parts_and_splits_only_oversized_ones() -> None:
    proc, out, _ = make({"send_batch_size": 5, "send_batch_max_size": 6, "timeout": "10s"})
    small = traces(4, "s")
    big = traces(5, "x", resources=2, scopes=2)  # 20 spans in 2 resources x 2 scopes
    callers = requests(proc, [small, big])
    await settle()
    await proc.shutdown()
    await asyncio.wait_for(asyncio.gather(*callers), 5)
    sizes = [b.item_count for b in out.batches]
    assert all(s <= 6 for s in sizes) and sum(sizes) == 24
    assert out.batches[0].parts == small.parts  # not split to fill the first batch
    got = [n for b in out.batches for n in names(b)]
    assert got == names(small) + names(big)  # order kept
    # the pieces still say which resource and scope each span came from
    for b in out.batches[1:]:
        for p in b.parts:
            for rs in p.message.resource_spans:
                svc = rs.resource.attributes[0].value.string_value
                assert rs.schema_url == "r" + svc[-1]
                for ss in rs.scope_spans:
                    assert ss.scope.name.startswith("scope") and len(ss.spans) > 0
    assert big.parts[0].item_count == 20 and not big.parts[0].mutated  # input untouched


def test_split_metrics_by_data_points_keeps_the_metric_shape() -> None:
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    m = sm.metrics.add(name="mcp.cost.cents", unit="{cent}")
    m.sum.aggregation_temporality = 2
    m.sum.is_monotonic = True
    for i in range(7):
        m.sum.data_points.add(as_int=i)
    g = sm.metrics.add(name="queue")
    g.gauge.data_points.add(as_double=1.5)
    part = Part(req)
    pieces = split_part(Signal.METRICS, part, 3)
    assert [p.item_count for p in pieces] == [3, 3, 2]
    merged = ExportMetricsServiceRequest.FromString(b"".join(p.wire() for p in pieces))
    metrics = [mm for rm in merged.resource_metrics for s in rm.scope_metrics
               for mm in s.metrics]
    values = [dp.as_int for mm in metrics if mm.name == "mcp.cost.cents"
              for dp in mm.sum.data_points]
    assert values == list(range(7))
    assert all(mm.sum.is_monotonic and mm.sum.aggregation_temporality == 2 and
               mm.unit == "{cent}" for mm in metrics if mm.name == "mcp.cost.cents")
    assert [mm.gauge.data_points[0].as_double for mm in metrics if mm.name == "queue"] == [1.5]


def test_split_logs() -> None:
    req = ExportLogsServiceRequest()
    sl = req.resource_logs.add().scope_logs.add()
    for i in range(5):
        sl.log_records.add(time_unix_nano=i + 1)
    pieces = split_part(Signal.LOGS, Part(req), 2)
    assert [p.item_count for p in pieces] == [2, 2, 1]
    merged = ExportLogsServiceRequest.FromString(b"".join(p.wire() for p in pieces))
    assert [r.time_unix_nano for rl in merged.resource_logs for s in rl.scope_logs
            for r in s.log_records] == [1, 2, 3, 4, 5]


def tenants(batch: Batch) -> set[str]:
    return {p.sender.metadata["x-tenant"] for p in batch.parts}


async def test_metadata_keys_batch_per_tenant() -> None:
    proc, out, _ = make({"send_batch_size": 4, "timeout": "10s", "metadata_keys": ["X-Tenant"],
                         "metadata_cardinality_limit": 2})
    a = Sender(metadata={"x-tenant": "a"})
    b = Sender(metadata={"x-tenant": "b"})
    callers = requests(proc, [traces(2, "a", sender=a), traces(3, "b", sender=b),
                              traces(2, "a", sender=a)])
    await settle()
    assert len(out.batches) == 1 and tenants(out.batches[0]) == {"a"}
    assert [c.done() for c in callers] == [True, False, True]  # b waits for its batch
    with pytest.raises(ConsumerError, match="metadata_cardinality_limit 2") as err:
        await proc.consume(traces(1, "c", sender=Sender(metadata={"x-tenant": "c"})))
    assert err.value.permanent
    await proc.shutdown()
    await asyncio.wait_for(asyncio.gather(*callers), 5)
    assert [tenants(bb) for bb in out.batches] == [{"a"}, {"b"}]


def queue_full() -> RefusingConsumer:
    """An exporter whose sending queue is full: every batch is refused, retryably."""
    return RefusingConsumer(ConsumerError("exporter otlp: sending queue is full (1000/1000)"))


async def test_a_downstream_refusal_reaches_every_caller_of_the_batch() -> None:
    nxt = queue_full()
    proc, _, tel = make({"send_batch_size": 4, "timeout": "10s"}, nxt)
    callers = requests(proc, [traces(2), traces(2)])
    results = await asyncio.wait_for(asyncio.gather(*callers, return_exceptions=True), 5)
    assert nxt.calls == 1
    assert all(isinstance(r, ConsumerError) and not r.permanent and
               "sending queue is full" in str(r) for r in results)  # both senders retry
    assert sample(tel, "otelcol_processor_dropped_spans_total") == 0  # nothing dropped
    await proc.shutdown()


class Gate:
    """A next consumer that accepts only when the test opens the gate."""

    mutates_data = False

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.batches: list[Batch] = []

    async def consume(self, batch: Batch) -> None:
        await self.open.wait()
        self.batches.append(batch)


async def test_a_caller_is_answered_only_after_its_batch_was_handed_on() -> None:
    gate = Gate()
    proc, _, _ = make({"send_batch_size": 2, "timeout": "10s"}, gate)
    caller = asyncio.ensure_future(proc.consume(traces(3)))
    await settle()
    assert not caller.done()  # the exporter has not accepted it yet
    gate.open.set()
    await asyncio.wait_for(caller, 5)
    assert sum(b.item_count for b in gate.batches) == 3
    await proc.shutdown()


async def test_a_split_request_waits_for_every_piece_and_gets_their_error() -> None:
    nxt = RefusingConsumer(ConsumerError("disk full", retry_after=2.0), on_call=2)
    proc, _, _ = make({"send_batch_size": 3, "send_batch_max_size": 3, "timeout": "10s"}, nxt)
    with pytest.raises(ConsumerError, match="disk full") as err:
        await asyncio.wait_for(proc.consume(traces(7)), 5)  # pieces of 3, 3, (1 held)
    assert err.value.retry_after == 2.0
    assert nxt.calls >= 2
    await proc.shutdown()


async def test_without_ack_after_export_errors_are_logged_once_and_counted(caplog: Any
                                                                           ) -> None:
    nxt = queue_full()
    proc, _, tel = make({"send_batch_size": 2, "timeout": "10s", "ack_after_export": False},
                        nxt)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            await proc.consume(traces(2))  # the sender never sees the error
    assert nxt.calls == 3
    assert caplog.text.count("sending queue is full") == 1
    assert sample(tel, "otelcol_processor_dropped_spans_total") == 6
    await proc.shutdown()


async def test_shutdown_flushes_what_is_held() -> None:
    proc, out, _ = make({"send_batch_size": 100, "timeout": "1h"})
    callers = requests(proc, [traces(3), traces(4)])
    await settle()
    assert out.items() == 0
    await asyncio.wait_for(proc.shutdown(), 5)
    await asyncio.wait_for(asyncio.gather(*callers), 5)
    assert out.items() == 7
    await proc.consume(traces(1))  # late data after shutdown still goes through
    assert out.items() == 8


async def test_timeout_zero_passes_through_split_to_max() -> None:
    proc, out, _ = make({"timeout": 0, "send_batch_size": 0, "send_batch_max_size": 3})
    await proc.consume(traces(7))
    assert [b.item_count for b in out.batches] == [3, 3, 1]
    await proc.shutdown()


async def test_many_concurrent_senders_nothing_lost() -> None:
    proc, out, _ = make({"send_batch_size": 50, "send_batch_max_size": 64, "timeout": "20ms"})

    async def sender(i: int) -> None:
        for j in range(20):
            await proc.consume(traces(1 + (i + j) % 7, f"{i}-{j}-"))

    await asyncio.gather(*(sender(i) for i in range(10)))
    await proc.shutdown()
    expected = sum(1 + (i + j) % 7 for i in range(10) for j in range(20))
    assert out.items() == expected
    assert all(b.item_count <= 64 for b in out.batches)
    assert len({n for b in out.batches for n in names(b)}) == expected


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=3), min_size=1,
                      max_size=3),
       max_items=st.integers(1, 8))
def test_split_then_concatenate_gives_back_the_same_spans(shape: list[list[int]],
                                                          max_items: int) -> None:
    req = ExportTraceServiceRequest()
    k = 0
    for r, scopes in enumerate(shape):
        rs = req.resource_spans.add(schema_url=f"r{r}")
        for s, n in enumerate(scopes):
            ss = rs.scope_spans.add()
            ss.scope.name = f"{r}.{s}"
            for _ in range(n):
                ss.spans.add(name=f"{r}.{s}.{k}")
                k += 1
    part = Part(req)
    pieces = split_part(Signal.TRACES, part, max_items)
    assert all(p.item_count <= max_items for p in pieces)
    assert sum(p.item_count for p in pieces) == part.item_count
    merged = ExportTraceServiceRequest.FromString(b"".join(p.wire() for p in pieces))

    def flat(m: ExportTraceServiceRequest) -> list[tuple[str, str, str]]:
        return [(rs.schema_url, ss.scope.name, sp.name) for rs in m.resource_spans
                for ss in rs.scope_spans for sp in ss.spans]

    assert flat(merged) == flat(req)
