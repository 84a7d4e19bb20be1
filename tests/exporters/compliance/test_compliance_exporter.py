"""The compliance exporter as the gateway runs it: config, captures replay, files, TCP."""

from __future__ import annotations

import asyncio
import collections
import os
from pathlib import Path

import orjson
import pytest

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.exporters.compliance.config import ComplianceConfig
from hangar_otelcol.exporters.compliance.factory import FACTORY
from hangar_otelcol.exporters.compliance.record import ComplianceRecord
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, free_port, make_settings
from tests.exporters.compliance.parsers import parse_cef, parse_leef, parse_syslog
from tests.support.captures import CALLS_2X, batches
from tests.support.waiting import eventually

PATH = "exporters.compliance"


def make(raw: dict, telemetry: Telemetry | None = None):  # type: ignore[no-untyped-def]
    config = build(ComplianceConfig, raw, PATH)
    return FACTORY.create(make_settings(Kind.EXPORTER, "compliance", telemetry), config)


def metric(tel: Telemetry, what: str, fmt: str, output: str) -> float:
    return tel.counter(f"otelcol_exporter_compliance_records_{what}_total", "",
                       ()).get(("compliance", fmt, output))


# ----------------------------------------------------------------------------- config

def test_factory_is_an_exporter_for_traces_and_logs() -> None:
    assert (FACTORY.type, FACTORY.kind) == ("compliance", Kind.EXPORTER)
    assert {s.value for s in FACTORY.signals} == {"traces", "logs"}
    config = FACTORY.default_config()
    assert (config.format, config.output, config.enabled) == ("", "", False)


def test_unknown_format_is_a_config_error_naming_the_path() -> None:
    with pytest.raises(ConfigError) as err:
        build(ComplianceConfig, {"format": "xml"}, PATH)
    assert err.value.errors == [
        "exporters.compliance.format: unknown format 'xml' "
        "(expected jsonlines, json-lines, leef, syslog or cef)"]


@pytest.mark.parametrize(("raw", "message"), [
    ({"format": "syslog", "output": "tcp://siem"}, "exporters.compliance.output: 'tcp://siem' "
     "needs a host and a port"),
    ({"format": "leef", "vendor": "A|B"}, "exporters.compliance.vendor: must not contain"),
    ({"format": "syslog", "sd_id": "mcp"}, "exporters.compliance.sd_id: expected name@"),
    ({"format": "syslog", "facility": "local9"}, "exporters.compliance.facility: unknown"),
    ({"format": "syslog", "severity": {"failed": "loud"}},
     "exporters.compliance.severity.failed: unknown syslog severity 'loud'"),
    ({"format": "cef", "cef_severity": {"failed": 11}},
     "exporters.compliance.cef_severity.failed: must be 0-10"),
    ({"format": "leef", "leef": {"delimiter": "|"}},
     "exporters.compliance.leef.delimiter: '|' cannot be a LEEF delimiter"),
    ({"format": "jsonlines", "output": "/nonexistent-dir/x.log"},
     "exporters.compliance.output: directory '/nonexistent-dir' of the output file does not"),
    ({"format": "syslog", "output": "tls://h:6514", "network": {"tls": {"ca_file": "/nope"}}},
     "exporters.compliance.network.tls.ca_file: /nope does not exist"),
])
def test_config_errors_are_specific(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        build(ComplianceConfig, raw, PATH)
    assert any(e.startswith(message) for e in err.value.errors), err.value.errors


async def test_empty_format_means_off(capfd: pytest.CaptureFixture[str]) -> None:
    exporter = make({"format": "", "output": ""})
    await exporter.start(StandaloneHost())
    for batch in batches("2.34.4"):
        await exporter.consume(batch)
    await exporter.shutdown()
    assert capfd.readouterr().err == ""


async def test_stderr_is_the_default_output(capfd: pytest.CaptureFixture[str]) -> None:
    exporter = make({"format": "jsonlines", "output": ""})
    await exporter.start(StandaloneHost())
    for batch in batches("2.34.4")[:1]:
        await exporter.consume(batch)
    assert await exporter.flush(5)
    await exporter.shutdown()
    lines = capfd.readouterr().err.splitlines()
    types = [orjson.loads(x)["event_type"] for x in lines]
    assert types[:2] == ["McpServerStateChanged"] * 2 and len(types) > 2


# ----------------------------------------------------------------------------- captures

async def replay(version: str, fmt: str, tmp_path: Path) -> list[str]:
    out = tmp_path / f"{version}.{fmt}.log"
    exporter = make({"format": fmt, "output": str(out), "procid": "1"})
    await exporter.start(StandaloneHost())
    for batch in batches(version):
        await exporter.consume(batch)
    assert await exporter.flush(5)
    await exporter.shutdown()
    return out.read_text(encoding="utf-8").splitlines()


def _summary(fmt: str, line: str) -> tuple[str, str | None, str | None]:
    """(event id, tool, status-or-to_state) from a line of any format."""
    if fmt == "jsonlines":
        d = orjson.loads(line)
        ids = {"ToolInvocationCompleted": "101", "ToolInvocationFailed": "102",
               "McpServerStateChanged": "202"}
        return ids[d["event_type"]], d.get("tool_name"), d.get("status") or d.get("to_state")
    if fmt == "syslog":
        p = parse_syslog(line)
        sd = p["sd"]["mcp@49152"]
        return p["msgid"], sd.get("tool"), sd.get("status") or sd.get("to_state")
    if fmt == "leef":
        h, a = parse_leef(line)
        status = {"101": "success", "102": "error"}.get(h[4], a.get("newState"))
        return h[4], a.get("action"), status
    h, e = parse_cef(line)
    return h[4], e.get("cs5"), e.get("outcome") or e.get("cs3")


@pytest.mark.parametrize("fmt", ["jsonlines", "leef", "syslog", "cef"])
@pytest.mark.parametrize("version", ["1.6.3", "2.34.4", "2.34.4-http"])
async def test_replay_gives_one_record_per_call_and_state_change(
        version: str, fmt: str, tmp_path: Path) -> None:
    lines = await replay(version, fmt, tmp_path)
    got = [_summary(fmt, x) for x in lines]
    calls = [(("101" if s == "success" else "102"), t, s) for t, s in CALLS_2X]
    if version == "1.6.3":
        expected = calls  # spans only: no state-change records exist
    else:
        expected = [("202", None, "initializing"), ("202", None, "ready"), *calls]
    assert collections.Counter(got) == collections.Counter(expected)


async def test_replay_uses_record_time_and_sender_version(tmp_path: Path) -> None:
    lines = await replay("2.34.4", "cef", tmp_path)
    header, ext = parse_cef(lines[0])
    assert header[3] == "2.34.4"  # the sender's service.version
    assert int(ext["rt"]) < 1_800_000_000_000  # 2026 capture time, not now


# ----------------------------------------------------------------------------- files

def numbered(n: int) -> list[ComplianceRecord]:
    """``n`` distinct records (each its own record id)."""
    return [ComplianceRecord(event_type="ToolInvocationCompleted",
                             time_unix_nano=1_795_000_000_000_000_000 + i, mcp_server_id="m",
                             tool_name=f"t{i}", status="success", record_id=f"{i + 1:016x}" * 2)
            for i in range(n)]


async def test_file_rotation_keeps_whole_lines(tmp_path: Path) -> None:
    out = tmp_path / "c.log"
    exporter = make({"format": "jsonlines", "output": str(out),
                     "file": {"rotate_size": 2000, "keep": 2}})
    await exporter.start(StandaloneHost())
    records = numbered(48)
    for i in range(0, 48, 8):
        await exporter.export_records(records[i:i + 8])
        assert await exporter.flush(5)
    await exporter.shutdown()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["c.log", "c.log.1", "c.log.2"]
    for f in files:
        assert f.stat().st_size <= 2000
        for line in f.read_text().splitlines():
            orjson.loads(line)  # every line whole


async def test_logrotate_move_is_noticed_without_signal(tmp_path: Path) -> None:
    out = tmp_path / "c.log"
    exporter = make({"format": "syslog", "output": str(out)})
    await exporter.start(StandaloneHost())
    all_batches = batches("2.34.4")
    await exporter.consume(all_batches[0])
    assert await exporter.flush(5)
    before = len(out.read_text().splitlines())
    os.rename(out, tmp_path / "c.log.1")  # what logrotate's default "create" mode does
    await exporter.consume(all_batches[1])
    assert await exporter.flush(5)
    await exporter.shutdown()
    # nothing written into the moved file after the move; the rest went to a new file
    assert len((tmp_path / "c.log.1").read_text().splitlines()) == before
    assert len(out.read_text().splitlines()) >= 1


async def test_write_error_keeps_records_and_recovers(tmp_path: Path) -> None:
    tel = Telemetry()
    folder = tmp_path / "gone"
    folder.mkdir()
    out = folder / "c.log"
    exporter = make({"format": "leef", "output": str(out)}, tel)
    await exporter.start(StandaloneHost())
    folder.rmdir()  # the directory disappears: every write fails (ENOENT)
    for batch in batches("2.34.4"):
        await exporter.consume(batch)
    await eventually(lambda: metric(tel, "failed", "leef", "file") > 0, 2,
                     "at least one failed attempt", interval=0.01)
    assert exporter.queued_items == 8  # kept, retried
    folder.mkdir()
    assert await exporter.flush(10)
    await exporter.shutdown()
    assert len(out.read_text().splitlines()) == 8
    assert metric(tel, "written", "leef", "file") == 8
    assert metric(tel, "dropped", "leef", "file") == 0


async def test_a_full_queue_refuses_new_data_retryably_and_loses_nothing_accepted(
        tmp_path: Path) -> None:
    tel = Telemetry()
    port = free_port()  # nobody listens: the output cannot connect
    exporter = make({"format": "syslog", "output": f"tcp://127.0.0.1:{port}",
                     "sending_queue": {"queue_size": 2},
                     "retry_on_failure": {"initial_interval": "1s"}}, tel)
    await exporter.start(StandaloneHost())
    refused = []
    records = numbered(8)
    await exporter.export_records(records[:2])
    await eventually(lambda: exporter.queue.size() == 0, 5, "the sender took the first 2")
    for i in range(2, 8, 2):  # the first 2 are being sent (and failing); 2 may wait
        try:
            await exporter.export_records(records[i:i + 2])
        except ConsumerError as exc:
            refused.append(exc)
    assert len(refused) == 2 and all(not e.permanent and e.retry_after for e in refused)
    assert exporter.queued_items == 4
    with pytest.raises(ConsumerError, match="exceeds the queue capacity 2") as never:
        await exporter.export_records(numbered(3))  # can never fit: retrying cannot help
    assert never.value.permanent
    assert metric(tel, "dropped", "syslog", "tcp") == 0  # refused is not dropped: retried
    held = exporter.queued_items
    task = asyncio.ensure_future(exporter.shutdown())
    await asyncio.sleep(0.05)
    task.cancel()  # what the service's drain deadline does
    with pytest.raises(asyncio.CancelledError):
        await task
    # a memory queue at the deadline: what it held is lost, and counted
    assert metric(tel, "dropped", "syslog", "tcp") == held


# ----------------------------------------------------------------------------- TCP receiver

class LineServer:
    """A minimal octet-counting syslog receiver (real asyncio server on 127.0.0.1)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[str] = []
        self.server: asyncio.base_events.Server | None = None
        self.conns: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.conns:
            w.close()
        await self.server.wait_closed()
        self.conns.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conns.append(writer)
        try:
            while True:
                length = await reader.readuntil(b" ")
                data = await reader.readexactly(int(length))
                self.messages.append(data.decode())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass


async def test_tcp_receiver_restart_loses_nothing() -> None:
    tel = Telemetry()
    port = free_port()
    server = LineServer(port)
    await server.start()
    exporter = make({"format": "syslog", "output": f"tcp://127.0.0.1:{port}",
                     "retry_on_failure": {"initial_interval": "50ms",
                                          "max_interval": "200ms"}}, tel)
    await exporter.start(StandaloneHost())
    all_batches = batches("2.34.4")
    await exporter.consume(all_batches[0])
    assert await exporter.flush(5)
    await server.stop()  # the SIEM goes away ...
    for batch in all_batches[1:]:
        await exporter.consume(batch)
    await asyncio.sleep(0.3)
    await server.start()  # ... and comes back
    assert await exporter.flush(10)
    await exporter.shutdown()
    await server.stop()
    ids = {parse_syslog(m)["timestamp"] for m in server.messages}
    assert len(ids) == 8  # every record arrived (duplicates possible, never a loss)
    assert metric(tel, "written", "syslog", "tcp") >= 8
