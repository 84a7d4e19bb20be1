"""Following a hangar log file: batching, bad lines, rotation, truncation, checkpoints."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.receivers.hangar_audit_log.config import HangarAuditLogConfig
from tests.receivers.hangar_audit_log.helpers import (
    DATA,
    FlakyConsumer,
    Harness,
    audit_line,
    records,
)
from tests.support.otlp import attrs
from tests.support.waiting import eventually


def _seqs(h: Harness) -> list[int]:
    return [r["attrs"]["seq"] for r in records(h.consumer)]


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text)


def _cfg(tmp_path: Path, log: Path, **extra: object) -> dict:
    return {"path": str(log), "checkpoint_path": str(tmp_path / "ckpt.json"), **extra}


async def test_captured_stderr_becomes_audit_records(tmp_path: Path) -> None:
    log = tmp_path / "hangar.stderr"
    # hangar 2>&1: startup lines, a plain-text line and the audit lines, interleaved
    log.write_bytes((DATA / "v1.1.0-startup.jsonl").read_bytes() + b"plain text line\n"
                    + (DATA / "v1.1.0-audit_event.jsonl").read_bytes())
    async with Harness(_cfg(tmp_path, log)) as h:
        await eventually(lambda: len(records(h.consumer)) >= 8)
        await eventually(lambda: h.lines("other") == 4)
    recs = records(h.consumer)
    assert len(recs) == 8
    assert {r["scope"] for r in recs} == {"mcp_hangar.audit"}
    assert {r["service"] for r in recs} == {"mcp-hangar"}
    assert {r["transport"] for r in recs} == {"file"}
    assert [r["body"] for r in recs].count("tool_invocation") == 6
    assert (h.lines("audit"), h.lines("other"), h.lines("not_json")) == (8, 4, 1)
    assert h.metric("otelcol_receiver_accepted_log_records_total",
                    "hangar_audit_log", "file") == 8


async def test_records_say_where_they_were_read_and_who_may_write_there(
        tmp_path: Path) -> None:
    """A line in hangar's stream can come from any process sharing it (docs/security.md):
    every record says it was read from a file or stdin, and with ``principal`` the input
    is bound to a principal, as an authenticated sender is."""
    log = tmp_path / "a.log"
    log.write_text(audit_line(1))
    async with Harness(_cfg(tmp_path, log, principal="hangar-local")) as h:
        await eventually(lambda: len(records(h.consumer)) >= 1)
    part = h.consumer.batches[0].parts[0]
    resource = part.message.resource_logs[0].resource
    assert attrs(resource)["hangar.audit.input"] == "file"
    assert part.sender.principal is not None
    assert part.sender.principal.name == "hangar_audit_log:hangar-local"


async def test_lines_appended_later_are_batched(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("")
    async with Harness(_cfg(tmp_path, log, max_batch_lines=10, batch_timeout="5s")) as h:
        _append(log, "".join(audit_line(i) for i in range(25)))
        await eventually(lambda: len(records(h.consumer)) >= 20)
        # 25 lines: two full batches at once, the last 5 wait for the timeout or shutdown
        assert [b.item_count for b in h.consumer.batches] == [10, 10]
    assert _seqs(h) == list(range(25))
    assert h.consumer.batches[-1].item_count == 5  # flushed at shutdown


async def test_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    line = audit_line(1)
    log.write_text(audit_line(0) + line[:40])
    async with Harness(_cfg(tmp_path, log)) as h:
        await eventually(lambda: len(records(h.consumer)) == 1)
        _append(log, line[40:])
        await eventually(lambda: len(records(h.consumer)) == 2)
    assert _seqs(h) == [0, 1]
    assert h.lines("not_json") == 0


async def test_other_lines_forwarded_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes((DATA / "v1.1.0-startup.jsonl").read_bytes() + b"not json\n"
                    + audit_line(7).encode())
    async with Harness(_cfg(tmp_path, log, forward_other_lines=True)) as h:
        await eventually(lambda: len(records(h.consumer)) >= 6)
    recs = records(h.consumer)
    assert [r["scope"] for r in recs].count("mcp_hangar.audit") == 1
    assert recs[4] == {**recs[4], "body": "not json", "scope": "hangar_otelcol.hangar_audit_log"}
    assert recs[1]["body"] == "tracing_initialization_failed"
    assert recs[1]["severity"] == 17
    assert h.lines("forwarded") == 5


async def test_overlong_line_is_counted_and_skipped(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(audit_line(0) + "x" * 5000 + "\n" + audit_line(1))
    async with Harness(_cfg(tmp_path, log, max_line_size=1024)) as h:
        await eventually(lambda: len(records(h.consumer)) >= 2)
    assert _seqs(h) == [0, 1]
    assert h.lines("too_long") == 1


async def test_restart_resumes_from_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(audit_line(i) for i in range(5)))
    cfg = _cfg(tmp_path, log)
    async with Harness(cfg) as first:
        await eventually(lambda: len(records(first.consumer)) == 5)
    _append(log, "".join(audit_line(i) for i in range(5, 8)))
    async with Harness(cfg) as second:
        await eventually(lambda: len(records(second.consumer)) == 3)
    assert _seqs(first) + _seqs(second) == list(range(8))


async def test_rotation_by_rename_loses_nothing(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(audit_line(0))
    async with Harness(_cfg(tmp_path, log)) as h:
        await eventually(lambda: len(records(h.consumer)) == 1)
        _append(log, audit_line(1))
        os.rename(log, tmp_path / "a.log.1")
        _append(tmp_path / "a.log.1", audit_line(2))  # the writer still had the old file open
        log.write_text(audit_line(3))
        await eventually(lambda: len(records(h.consumer)) == 4)
        _append(log, audit_line(4))
        await eventually(lambda: len(records(h.consumer)) == 5)
    assert _seqs(h) == [0, 1, 2, 3, 4]
    assert h.metric("otelcol_receiver_hangar_audit_log_file_events_total",
                    "hangar_audit_log", "rotated") == 1


async def test_truncation_rereads_from_start(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(audit_line(0) + audit_line(1))
    async with Harness(_cfg(tmp_path, log)) as h:
        await eventually(lambda: len(records(h.consumer)) == 2)
        with log.open("r+") as f:  # copytruncate
            f.truncate(0)
        _append(log, audit_line(2))
        await eventually(lambda: len(records(h.consumer)) == 3)
    assert _seqs(h) == [0, 1, 2]


async def test_rewritten_file_of_same_size_is_read_again(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(audit_line(0, "aaa"))
    cfg = _cfg(tmp_path, log)
    async with Harness(cfg) as first:
        await eventually(lambda: len(records(first.consumer)) == 1)
    with log.open("r+") as f:  # same inode, same length, other content
        f.write(audit_line(1, "bbb"))
    async with Harness(cfg) as second:
        await eventually(lambda: len(records(second.consumer)) == 1)
    assert _seqs(second) == [1]


async def test_rotated_while_stopped_reads_rest_of_old_then_new(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(audit_line(0))
    cfg = _cfg(tmp_path, log)
    async with Harness(cfg) as first:
        await eventually(lambda: len(records(first.consumer)) == 1)
    _append(log, audit_line(1))
    os.rename(log, tmp_path / "a.log.1")
    log.write_text(audit_line(2))
    async with Harness(cfg) as second:
        await eventually(lambda: len(records(second.consumer)) == 2)
    assert _seqs(first) + _seqs(second) == [0, 1, 2]


async def test_start_at_end_without_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(audit_line(0))
    async with Harness(_cfg(tmp_path, log, start_at="end")) as h:
        await eventually(lambda: h.receiver._saved_pos is None)
        _append(log, audit_line(1))
        await eventually(lambda: len(records(h.consumer)) == 1)
    assert _seqs(h) == [1]


async def test_file_that_appears_later(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                       ) -> None:
    log = tmp_path / "later.log"
    caplog.set_level(logging.INFO)
    async with Harness(_cfg(tmp_path, log)) as h:
        await eventually(lambda: "later.log does not exist yet" in caplog.text)
        log.write_text(audit_line(0))
        await eventually(lambda: len(records(h.consumer)) == 1)


async def test_refused_batches_are_retried_not_lost(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(audit_line(i) for i in range(3)))
    async with Harness(_cfg(tmp_path, log, retry_interval="10ms"),
                       consumer=FlakyConsumer(refusals=2)) as h:
        await eventually(lambda: len(records(h.consumer)) == 3)
    assert h.consumer.refused == 2
    assert _seqs(h) == [0, 1, 2]


async def test_refused_at_shutdown_is_read_again_next_start(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(audit_line(0))
    cfg = _cfg(tmp_path, log, batch_timeout="10s")
    async with Harness(cfg, consumer=FlakyConsumer(refusals=1000)) as h:
        await eventually(lambda: h.receiver._builder.count == 1)
    assert records(h.consumer) == []
    async with Harness({**cfg, "batch_timeout": "20ms"}) as again:
        await eventually(lambda: len(records(again.consumer)) == 1)
    assert _seqs(again) == [0]


async def test_corrupt_checkpoint_is_reported_not_fatal(tmp_path: Path, caplog) -> None:
    log = tmp_path / "a.log"
    log.write_text(audit_line(0))
    (tmp_path / "ckpt.json").write_text("{nonsense")
    async with Harness(_cfg(tmp_path, log)) as h:
        await eventually(lambda: len(records(h.consumer)) == 1)
    assert "unreadable" in caplog.text


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        build(HangarAuditLogConfig, {"path": "", "max_batch_lines": 0, "start_at": "middle",
                                     "poll_interval": "soon"}, "receivers.hangar_audit_log")
    text = str(err.value)
    assert "receivers.hangar_audit_log.path: required" in text
    assert "receivers.hangar_audit_log.max_batch_lines: must be at least 1" in text
    assert "receivers.hangar_audit_log.start_at: must be one of beginning, end" in text
    assert "receivers.hangar_audit_log.poll_interval: invalid duration 'soon'" in text


def test_default_config_reads_stdin() -> None:
    cfg = build(HangarAuditLogConfig, None)
    assert cfg.reads_stdin and cfg.checkpoint
