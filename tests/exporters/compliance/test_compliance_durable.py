"""Compliance records survive a restart and are written once: a persistent queue on a
real SQLite file_storage, record ids, and the repair of a file a crash left behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from hangar_otelcol.exporters.compliance.factory import FACTORY
from hangar_otelcol.exporters.compliance.record import ComplianceRecord
from hangar_otelcol.testing import free_port
from tests.support.durable import DurableExporter


def records(start: int, n: int) -> list[ComplianceRecord]:
    return [ComplianceRecord(event_type="ToolInvocationCompleted",
                             time_unix_nano=1_795_000_000_000_000_000 + i, mcp_server_id="m",
                             tool_name=f"t{i}", status="success", record_id=f"{i + 1:016x}" * 2)
            for i in range(start, start + n)]


class Gateway(DurableExporter):
    """The compliance exporter of a gateway process, on a file_storage in ``state``."""

    def __init__(self, state: Path, output: str, **raw: Any) -> None:
        super().__init__(FACTORY, state, {"format": "jsonlines", "output": output, **raw})

    async def crash(self) -> None:
        await self.kill()

    def count(self, what: str) -> float:
        return self.telemetry.counter(f"otelcol_exporter_compliance_records_{what}_total", "",
                                      ()).get(("compliance", "jsonlines", "file"))


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_records_accepted_while_the_output_is_down_are_written_after_a_restart(
        tmp_path: Path) -> None:
    port = free_port()  # a SIEM that is down: nothing can be written
    first = Gateway(tmp_path / "state", f"tcp://127.0.0.1:{port}",
                    retry_on_failure={"initial_interval": "10s"})
    await first.start()
    await first.exporter.export_records(records(0, 5))  # durable once this returns
    await first.crash()
    out = tmp_path / "c.jsonl"
    second = Gateway(tmp_path / "state", str(out))  # restarted, the file output works
    await second.start()
    assert await second.exporter.flush(10)
    await second.stop()
    assert [r["tool_name"] for r in lines(out)] == [f"t{i}" for i in range(5)]


async def test_a_record_seen_again_is_written_once(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    gw = Gateway(tmp_path / "state", str(out))
    await gw.start()
    await gw.exporter.export_records(records(0, 4))
    await gw.exporter.export_records(records(2, 4))  # a sender's retry: two repeat
    assert await gw.exporter.flush(10)
    await gw.stop()
    assert [r["record_id"][-1] for r in lines(out)] == ["1", "2", "3", "4", "5", "6"]
    assert gw.count("duplicates") == 2 and gw.count("written") == 6


async def test_after_a_crash_what_was_written_is_not_written_again(tmp_path: Path) -> None:
    """Written but not yet checkpointed when the process died: the queue gives the records
    back, the ids at the end of the file say they are there."""
    out = tmp_path / "c.jsonl"
    first = Gateway(tmp_path / "state", str(out))
    await first.start()
    await first.exporter.export_records(records(0, 10))
    assert await first.exporter.flush(10)  # written; the 1 s checkpoint has not run
    await first.crash()
    assert len(lines(out)) == 10
    second = Gateway(tmp_path / "state", str(out))
    await second.start()
    await second.exporter.export_records(records(10, 2))
    assert await second.exporter.flush(10)
    await second.stop()
    assert [r["tool_name"] for r in lines(out)] == [f"t{i}" for i in range(12)]
    assert second.count("duplicates") == 10  # the replayed ones, recognised


async def test_a_record_repeated_after_a_restart_is_written_once(tmp_path: Path) -> None:
    """The window of written ids is saved with the checkpoints."""
    out = tmp_path / "c.jsonl"
    first = Gateway(tmp_path / "state", str(out))
    await first.start()
    await first.exporter.export_records(records(0, 3))
    assert await first.exporter.flush(10)
    await first.stop()  # the last checkpoint saves what was written
    out.rename(tmp_path / "c.jsonl.1")  # logrotate: the new file does not hold them
    os.rename(tmp_path / "c.jsonl.1", tmp_path / "moved.jsonl")
    second = Gateway(tmp_path / "state", str(out))
    await second.start()
    await second.exporter.export_records(records(0, 4))  # a sender retried after the restart
    assert await second.exporter.flush(10)
    await second.stop()
    assert [r["tool_name"] for r in lines(out)] == ["t3"]


@pytest.mark.parametrize("durable", [True, False])
async def test_a_torn_last_line_is_repaired(tmp_path: Path, durable: bool) -> None:
    out = tmp_path / "c.jsonl"
    out.write_bytes(b'{"a":1}\n{"timestamp":"2026-')  # killed in the middle of a write
    # the harness names its storage unless told not to (a memory queue)
    raw: dict[str, Any] = {} if durable else {"sending_queue": {"storage": ""}}
    gw = Gateway(tmp_path / "state", str(out), **raw)
    await gw.start()
    await gw.exporter.export_records(records(0, 1))
    assert await gw.exporter.flush(10)
    await gw.stop()
    text = out.read_bytes().splitlines()
    if durable:  # the torn record comes back from the queue: the fragment goes
        assert text[0] == b'{"a":1}' and len(text) == 2
    else:  # kept as a line of its own, visible
        assert text[1] == b'{"timestamp":"2026-' and len(text) == 3
    assert orjson.loads(text[-1])["tool_name"] == "t0"


async def test_a_symbolic_link_is_never_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.log"
    target.write_text("")
    link = tmp_path / "c.jsonl"
    # validate refuses a symlink at the path; one planted after the start is refused too
    gw = Gateway(tmp_path / "state", str(link), retry_on_failure={"initial_interval": "10s"})
    await gw.start()
    link.symlink_to(target)
    await gw.exporter.export_records(records(0, 1))
    assert not await gw.exporter.flush(0.5)  # kept, retried, never written
    assert target.read_text() == "" and gw.count("failed") >= 1
    await gw.crash()
