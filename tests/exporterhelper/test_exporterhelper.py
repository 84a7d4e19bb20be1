"""The shared exporter helper: queue, retry/backoff, timeout, shutdown drain.

The exporter under test is a tiny in-process ``send`` function (the helper's only
collaborator); real network exporters are tested in tests/exporters/otlp.
"""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.exporterhelper import (
    Backoff,
    ExporterHelper,
    ExportError,
    HelperConfig,
    RetryConfig,
)
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.support.waiting import eventually


def spans(n: int, name: str = "s") -> Batch:
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    for i in range(n):
        scope.spans.add(name=f"{name}{i}")
    return Batch.of(Signal.TRACES, req)


def fast_config(**overrides: object) -> HelperConfig:
    raw: dict[str, object] = {
        "timeout": "1s",
        "retry_on_failure": {"initial_interval": "10ms", "max_interval": "20ms",
                             "max_elapsed_time": "2s"},
    }
    raw.update(overrides)
    return build(HelperConfig, raw)


class Recorder:
    """A send function that fails according to a script, then records what it sent."""

    def __init__(self, script: list[BaseException | float] | None = None) -> None:
        self.script = list(script or [])
        self.sent: list[Batch] = []
        self.attempts = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, batch: Batch) -> None:
        self.attempts += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, BaseException):
                raise step
            await asyncio.sleep(step)
        self.sent.append(batch)

    def names(self) -> list[str]:
        return [b.parts[0].message.resource_spans[0].scope_spans[0].spans[0].name
                for b in self.sent]


def helper(send: Recorder, config: HelperConfig, telemetry: Telemetry | None = None
           ) -> tuple[ExporterHelper, Telemetry]:
    telemetry = telemetry or Telemetry()
    settings = make_settings(Kind.EXPORTER, "test/x", telemetry)
    return ExporterHelper(settings, config, send=send), telemetry


async def stuck(**sending_queue: object) -> tuple[ExporterHelper, Telemetry, Recorder]:
    """A started helper with one consumer, whose downstream is stuck (until
    ``recorder.gate`` is set) on a first batch: the queue is empty again, nothing sent."""
    rec = Recorder()
    rec.gate = asyncio.Event()
    h, tel = helper(rec, fast_config(sending_queue={"num_consumers": 1, **sending_queue}))
    await h.start(StandaloneHost())
    await h.consume(spans(1))
    await eventually(lambda: rec.attempts == 1)
    return h, tel, rec


async def unstick(h: ExporterHelper, rec: Recorder, batches: int) -> None:
    """Let the downstream take everything; ``batches`` arrive, then the helper stops."""
    assert rec.gate is not None
    rec.gate.set()
    await eventually(lambda: len(rec.sent) == batches)
    await h.shutdown()


def metric(telemetry: Telemetry, name: str) -> float:
    value = telemetry.registry.get_sample_value(name, {"exporter": "test/x"})
    return value or 0.0


def test_defaults_match_the_collector() -> None:
    c = HelperConfig()
    assert c.timeout == 5.0
    q = c.sending_queue
    assert (q.enabled, q.num_consumers, q.queue_size, q.sizer, q.block_on_overflow,
            q.wait_for_result) == (True, 10, 1000, "requests", False, False)
    r = c.retry_on_failure
    assert (r.enabled, r.initial_interval, r.max_interval, r.max_elapsed_time, r.multiplier,
            r.randomization_factor) == (True, 5.0, 30.0, 300.0, 1.5, 0.5)


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        build(HelperConfig, {"timeout": "fast", "sending_queue": {"num_consumers": 0,
              "sizer": "pages"}, "retry_on_failure": {"multiplier": 0.5, "bogus": 1}},
              "exporters.otlp")
    text = str(err.value)
    assert "exporters.otlp.timeout: invalid duration 'fast'" in text
    assert "exporters.otlp.sending_queue.num_consumers: must be at least 1" in text
    assert "exporters.otlp.sending_queue.sizer: must be one of requests, items, bytes" in text
    assert "exporters.otlp.retry_on_failure.multiplier: must be at least 1" in text
    assert "exporters.otlp.retry_on_failure.bogus: unknown key" in text


def test_backoff_grows_jittered_and_capped_then_gives_up() -> None:
    now = [0.0]
    cfg = RetryConfig(initial_interval=1.0, max_interval=4.0, max_elapsed_time=20.0,  # type: ignore[arg-type]
                      multiplier=2.0, randomization_factor=0.5)
    b = Backoff(cfg, clock=lambda: now[0])
    bounds = [(0.5, 1.5), (1.0, 3.0), (2.0, 6.0), (2.0, 6.0)]
    for low, high in bounds:
        d = b.next_delay()
        assert d is not None and low <= d <= high
    assert b.next_delay(retry_after=9.0) == 9.0  # server hint wins over a shorter jitter
    now[0] = 19.0
    assert b.next_delay() is None  # would end after max_elapsed_time


async def test_queued_send_counts_sent_items() -> None:
    rec = Recorder()
    h, tel = helper(rec, fast_config())
    await h.start(StandaloneHost())
    for i in range(5):
        await h.consume(spans(3, f"b{i}-"))
    await eventually(lambda: len(rec.sent) == 5)
    await h.shutdown()
    assert sorted(rec.names()) == [f"b{i}-0" for i in range(5)]
    assert metric(tel, "otelcol_exporter_sent_spans_total") == 15
    assert metric(tel, "otelcol_exporter_queue_capacity") == 1000


async def test_retryable_errors_are_retried_until_sent() -> None:
    rec = Recorder([ExportError("unavailable", retryable=True), TimeoutError("conn"),
                    ExportError("throttled", retryable=True, retry_after=0.05)])
    h, tel = helper(rec, fast_config())
    await h.start(StandaloneHost())
    await h.consume(spans(4))
    await eventually(lambda: len(rec.sent) == 1)
    await h.shutdown()
    assert rec.attempts == 4
    assert metric(tel, "otelcol_exporter_sent_spans_total") == 4
    assert metric(tel, "otelcol_exporter_send_failed_spans_total") == 0


async def test_permanent_error_drops_and_counts_without_retry(caplog) -> None:  # type: ignore[no-untyped-def]
    rec = Recorder([ExportError("HTTP 400: bad span", retryable=False)])
    h, tel = helper(rec, fast_config())
    await h.start(StandaloneHost())
    await h.consume(spans(2))
    await eventually(lambda: metric(tel, "otelcol_exporter_send_failed_spans_total") == 2)
    await h.shutdown()
    assert rec.attempts == 1 and rec.sent == []
    assert "HTTP 400: bad span" in caplog.text


async def test_attempt_timeout_then_retry() -> None:
    rec = Recorder([5.0])  # first attempt hangs longer than the timeout
    h, _ = helper(rec, fast_config(timeout="50ms"))
    await h.start(StandaloneHost())
    await h.consume(spans(1))
    await eventually(lambda: len(rec.sent) == 1)
    await h.shutdown()
    assert rec.attempts == 2


async def test_gives_up_after_max_elapsed_time() -> None:
    rec = Recorder([ExportError("down", retryable=True)] * 1000)
    cfg = fast_config(retry_on_failure={"initial_interval": "10ms", "max_interval": "10ms",
                                        "max_elapsed_time": "100ms"})
    h, tel = helper(rec, cfg)
    await h.start(StandaloneHost())
    await h.consume(spans(3))
    await eventually(lambda: metric(tel, "otelcol_exporter_send_failed_spans_total") == 3)
    await h.shutdown()
    assert 2 <= rec.attempts < 50


async def test_full_queue_drops_and_counts_enqueue_failed() -> None:
    h, tel, rec = await stuck(queue_size=2)
    await h.consume(spans(1))
    await h.consume(spans(1))
    with pytest.raises(ConsumerError) as err:
        await h.consume(spans(7))
    assert not err.value.permanent and "queue is full" in str(err.value)
    assert metric(tel, "otelcol_exporter_enqueue_failed_spans_total") == 7
    assert metric(tel, "otelcol_exporter_queue_size") == 2
    await unstick(h, rec, 3)


async def test_items_sizer_counts_items() -> None:
    h, tel, rec = await stuck(queue_size=10, sizer="items")
    await h.consume(spans(6))
    with pytest.raises(ConsumerError):
        await h.consume(spans(5))  # 6 + 5 > 10
    with pytest.raises(ConsumerError, match="exceeds the queue capacity"):
        await h.consume(spans(11))
    await h.consume(spans(4))
    assert metric(tel, "otelcol_exporter_queue_size") == 10
    await unstick(h, rec, 3)


async def test_block_on_overflow_waits_for_space() -> None:
    h, tel, rec = await stuck(queue_size=1, block_on_overflow=True)
    await h.consume(spans(1))
    blocked = asyncio.create_task(h.consume(spans(1)))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    await unstick(h, rec, 3)
    await asyncio.wait_for(blocked, 5)  # it got its place once the downstream took one
    assert metric(tel, "otelcol_exporter_enqueue_failed_spans_total") == 0


async def test_wait_for_result_reports_the_outcome_to_the_caller() -> None:
    rec = Recorder([ExportError("schema rejected", retryable=False)])
    h, _ = helper(rec, fast_config(sending_queue={"wait_for_result": True}))
    await h.start(StandaloneHost())
    with pytest.raises(ConsumerError, match="schema rejected") as err:
        await h.consume(spans(1))
    assert err.value.permanent
    await h.consume(spans(1))  # the second one succeeds and returns after sending
    assert len(rec.sent) == 1
    await h.shutdown()


async def test_queue_disabled_sends_inline_and_raises() -> None:
    rec = Recorder([ExportError("down", retryable=True, retry_after=0.01)])
    cfg = fast_config(sending_queue={"enabled": False}, retry_on_failure={"enabled": False})
    h, tel = helper(rec, cfg)
    await h.start(StandaloneHost())
    with pytest.raises(ConsumerError) as err:
        await h.consume(spans(2))
    assert not err.value.permanent and err.value.retry_after == 0.01
    await h.consume(spans(2))
    assert len(rec.sent) == 1
    assert metric(tel, "otelcol_exporter_send_failed_spans_total") == 2
    assert metric(tel, "otelcol_exporter_sent_spans_total") == 2
    await h.shutdown()


async def test_shutdown_drains_everything_accepted() -> None:
    rec = Recorder([0.01] * 50)
    h, tel = helper(rec, fast_config(sending_queue={"num_consumers": 2}))
    await h.start(StandaloneHost())
    for _ in range(50):
        await h.consume(spans(2))
    await asyncio.wait_for(h.shutdown(), 10)
    assert len(rec.sent) == 50
    assert metric(tel, "otelcol_exporter_sent_spans_total") == 100
    with pytest.raises(ConsumerError, match="shutting down"):
        await h.consume(spans(1))
    await h.shutdown()  # twice is fine


async def test_shutdown_deadline_counts_the_rest_as_failed(caplog) -> None:  # type: ignore[no-untyped-def]
    rec = Recorder([ExportError("down", retryable=True)] * 10_000)
    h, tel = helper(rec, fast_config(sending_queue={"num_consumers": 2}))
    await h.start(StandaloneHost())
    for _ in range(10):
        await h.consume(spans(3))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(h.shutdown(), 0.2)  # as the service does
    assert metric(tel, "otelcol_exporter_send_failed_spans_total") == 30
    assert "shutdown deadline reached, dropped 10 requests (30 items)" in caplog.text
    assert all(t.done() for t in h._consumers)


async def test_unexpected_exception_in_send_is_not_retried_forever(caplog) -> None:  # type: ignore[no-untyped-def]
    rec = Recorder([KeyError("bug")])
    h, tel = helper(rec, fast_config())
    await h.start(StandaloneHost())
    await h.consume(spans(1))
    await eventually(lambda: metric(tel, "otelcol_exporter_send_failed_spans_total") == 1)
    await h.shutdown()
    assert rec.attempts == 1
    assert "unexpected error in send" in caplog.text


async def test_shutdown_waits_for_inline_sends_but_not_for_the_callers() -> None:
    rec = Recorder([0.1])
    h, tel = helper(rec, fast_config(sending_queue={"enabled": False}))
    await h.start(StandaloneHost())

    async def caller() -> None:  # e.g. a receiver's long-lived connection task
        await h.consume(spans(2))
        await asyncio.sleep(3600)

    task = asyncio.create_task(caller())
    await eventually(lambda: rec.attempts == 1)
    await asyncio.wait_for(h.shutdown(), 5)
    assert metric(tel, "otelcol_exporter_sent_spans_total") == 2  # the send finished first
    assert not task.done()  # and the caller's own task was left alone
    task.cancel()


async def test_exporters_that_send_bytes_queue_bytes_only() -> None:
    """queues_bytes: a queued request keeps its wire bytes, not decoded messages and
    invocation views, and what is sent is the same data (several parts become one)."""
    rec = Recorder()
    rec.gate = asyncio.Event()  # hold the sender so requests stay queued
    h, tel = helper(rec, fast_config(sending_queue={"num_consumers": 1}))
    h.queues_bytes = True
    await h.start(StandaloneHost())
    first, second = spans(2, "a"), spans(3, "b")
    two_parts = Batch(Signal.TRACES, [*first.parts, *second.parts])
    expected = two_parts.wire()
    await h.consume(two_parts)
    await h.consume(spans(1, "c"))
    await eventually(lambda: rec.attempts == 1)  # one request in flight, one queued
    held = [*h._in_flight, *h.queue._items]  # type: ignore[union-attr]
    assert len(held) == 2
    for item in held:
        assert len(item.work.parts) == 1
        assert item.work.parts[0]._message is None  # bytes only until someone reads it
    rec.gate.set()
    await eventually(lambda: len(rec.sent) == 2)
    await h.shutdown()
    assert rec.sent[0].wire() == expected
    assert rec.sent[0].item_count == 5
    assert rec.names() == ["a0", "c0"]  # the message is decoded on demand
    assert metric(tel, "otelcol_exporter_sent_spans_total") == 6
