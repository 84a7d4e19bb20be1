"""The exporter helper with a destination that is slow, down, or back: one timeout makes
every batch wait longer, one batch getting through ends the others' backoff, and a
persistent queue (real file_storage) keeps what cannot be sent at shutdown, without waiting
for the destination, and sends it after the next start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.exporterhelper import ExporterHelper, ExportError
from hangar_otelcol.exporterhelper.envelope import decode_batch, encode_batch
from hangar_otelcol.exporterhelper.queue import PersistentQueue, QueueItem
from hangar_otelcol.extensions.file_storage.config import FileStorageConfig
from hangar_otelcol.extensions.file_storage.extension import FileStorage
from hangar_otelcol.pdata import Batch
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.exporterhelper.test_exporterhelper import Recorder, fast_config, helper, metric, spans
from tests.support.waiting import eventually

DOWN = ExportError("down", retryable=True)


async def test_after_a_timeout_every_batch_waits_longer_until_answers_are_fast_again() -> None:
    # the destination answers in 150 ms; the timeout is 100 ms
    rec = Recorder([0.15, 0.15, 0.15, 0.0, 0.0])
    h, tel = helper(rec, fast_config(timeout="100ms", sending_queue={"num_consumers": 1}))
    await h.start(StandaloneHost())
    await h.consume(spans(1, "a"))
    await eventually(lambda: len(rec.sent) == 1, 5)
    # a timed out once, then got through with 200 ms; b is sent once, with 200 ms at once
    assert h.attempt_timeout == 0.2
    await h.consume(spans(1, "b"))
    await eventually(lambda: len(rec.sent) == 2, 5)
    assert rec.attempts == 3  # a twice, b once: b was not sent twice
    assert metric(tel, "otelcol_exporter_send_timeouts_total") == 1
    for name in ("c", "d"):  # answered at once: the timeout comes back down
        await h.consume(spans(1, name))
    await eventually(lambda: len(rec.sent) == 4, 5)
    await h.shutdown()
    assert h.attempt_timeout == 0.1


async def test_a_batch_getting_through_ends_the_backoff_of_the_others() -> None:
    # two batches fail: one is told to retry in 50 ms, the other in 60 s
    hints = [ExportError("busy", retryable=True, retry_after=0.05),
             ExportError("busy", retryable=True, retry_after=60.0)]
    rec = Recorder(hints)
    h, _ = helper(rec, fast_config(retry_on_failure={"initial_interval": "10ms",
                                                     "max_elapsed_time": "0s"}))
    await h.start(StandaloneHost())
    await h.consume(spans(1, "a"))
    await h.consume(spans(1, "b"))
    # the first one's retry gets through, so the other goes now, not in a minute
    await eventually(lambda: len(rec.sent) == 2, 5, "both batches sent")
    await h.shutdown()
    assert rec.attempts == 4


def storage(state: Path, telemetry: Telemetry) -> FileStorage:
    return FileStorage(make_settings(Kind.EXTENSION, "file_storage", telemetry),
                       build(FileStorageConfig, {"directory": str(state)}))


async def durable_helper(rec: Recorder, state: Path) -> tuple[ExporterHelper, FileStorage]:
    telemetry = Telemetry()
    store = storage(state, telemetry)
    config = fast_config(sending_queue={"storage": "file_storage", "num_consumers": 2},
                         retry_on_failure={"initial_interval": "10s", "max_interval": "30s"})
    h = ExporterHelper(make_settings(Kind.EXPORTER, "test/x", telemetry), config, send=rec)
    host = StandaloneHost({"file_storage": store})
    await store.start(host)
    await h.start(host)
    return h, store


async def test_shutdown_with_the_destination_down_keeps_the_queue_for_the_next_start(
        tmp_path: Path) -> None:
    down = Recorder([DOWN] * 1000)
    h, store = await durable_helper(down, tmp_path)
    for name in ("a", "b", "c"):
        await h.consume(spans(1, name))  # on disk once this returns
    await eventually(lambda: down.attempts >= 2, 5)  # both senders in their 10 s backoff
    # not held up by the backoff (nor the service's 30 s deadline): kept, not dropped
    await asyncio.wait_for(h.shutdown(), 5)
    await store.shutdown()
    assert down.sent == []
    up = Recorder()
    again, store = await durable_helper(up, tmp_path)
    await eventually(lambda: len(up.sent) == 3, 5, "the kept batches sent after the start")
    await again.shutdown()
    await store.shutdown()
    assert sorted(up.names()) == ["a0", "b0", "c0"]


async def test_a_backlog_waits_as_objects_then_as_bytes_then_only_on_disk(
        tmp_path: Path) -> None:
    store = storage(tmp_path, Telemetry())
    await store.start(StandaloneHost())
    size = len(encode_batch(spans(4, "b0-")))  # each item is this size
    queue = PersistentQueue(100, store.client("q"), encode_batch, decode_batch,
                            lambda item, n: 1, live_items=2, memory_budget=2 * size)
    await queue.open()
    put = []
    for i in range(6):
        item = QueueItem(spans(4, f"b{i}-"), 1)
        await queue.put(item, block=False)
        put.append(item)
    tiers = ["object" if i.work is not None else "bytes" if i.data is not None else "disk"
             for i in put]
    assert tiers == ["object", "object", "bytes", "bytes", "disk", "disk"]
    got = [await queue.get() for _ in range(6)]
    names = [g.work.parts[0].message.resource_spans[0].scope_spans[0].spans[0].name
             for g in got if g is not None and isinstance(g.work, Batch)]
    assert names == [f"b{i}-0" for i in range(6)]  # in order, whatever tier it waited in
    await store.shutdown()


def test_no_credential_header_is_written_to_the_queue_whatever_its_name() -> None:
    # an authenticator's header is configurable (bearertokenauth.header: x-hangar-token)
    from hangar_otelcol.pdata import Principal, Sender, Signal, decode

    secret = "tok-0123456789abcdef-live"
    sender = Sender("grpc", "10.0.0.7", {
        "authorization": f"Bearer {secret}", "x-hangar-token": secret,
        "x-api-key": secret, "user-agent": "OTel-OTLP-Exporter-Python"},
        Principal("bearertokenauth", "ci-bot", "agent", ("deployer",)))
    part = decode(Signal.LOGS, b"", sender)
    data = encode_batch(Batch(Signal.LOGS, [part]))
    assert secret.encode() not in data
    back = decode_batch(data).parts[0].sender
    assert dict(back.metadata) == {"user-agent": "OTel-OTLP-Exporter-Python"}
    assert back.principal is not None and back.principal.subject == "ci-bot"
