"""Every format through real receivers: rsyslog and syslog-ng over UDP, TCP (octet
counting and LF) and TLS; CEF through liblognorm's lognormalizer; LEEF through the
strict splitter; and an rsyslog restart in the middle of a stream."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.exporters.compliance.config import ComplianceConfig
from hangar_otelcol.exporters.compliance.factory import FACTORY
from hangar_otelcol.exporters.compliance.formats.common import MAX_FIELD_BYTES, clip
from hangar_otelcol.exporters.compliance.record import ComplianceRecord
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, free_port, make_settings
from tests.exporters.compliance.parsers import parse_cef, parse_leef
from tests.support.syslogd import (
    LOGNORMALIZER,
    Rsyslog,
    SyslogNg,
    have_rsyslog,
    have_rsyslog_tls,
    have_syslog_ng,
    lognormalize_cef,
)
from tests.support.tls import self_signed
from tests.support.waiting import eventually, wait_for

pytestmark = pytest.mark.syslog
needs_rsyslog = pytest.mark.skipif(not have_rsyslog(), reason="rsyslogd not installed "
                                   "(tests/exporters/compliance/install_syslog_daemons.sh)")
needs_rsyslog_tls = pytest.mark.skipif(not have_rsyslog_tls(),
                                       reason="rsyslog-openssl (lmnsd_ossl) not installed")
needs_syslog_ng = pytest.mark.skipif(
    not have_syslog_ng(),
    reason="syslog-ng not unpacked (tests/exporters/compliance/install_syslog_daemons.sh)")
needs_lognormalizer = pytest.mark.skipif(LOGNORMALIZER is None,
                                         reason="lognormalizer (liblognorm-utils) not installed")

# values a hostile sender could put in attributes; each must come back intact
HOSTILE = ['plain', 'a"b', "back\\slash", "close]bracket", "eq=ual", "pi|pe", "two  spaces",
           "tab\there", "new\nline", "cr\rhere", "nul\x00byte", "esc\x1b", "été 漢字 😀",
           '[x@1 forged="1"]', '" fake="1', "trailing ", "=", "\\", "]",
           "ls\u2028ps\u2029nel\x85vt\x0bff\x0cfs\x1c", "x" * 3000]


def records(values: list[str]) -> list[ComplianceRecord]:
    base = 1_795_000_000_000_000_000
    return [ComplianceRecord(event_type="ToolInvocationCompleted", time_unix_nano=base + i * 1000,
                             mcp_server_id=f"srv{i}", tool_name=v, status="success",
                             duration_ms=1.5, caller_id=v, caller_roles="admin,ops",
                             error_type=None, cost_cents=i)
            for i, v in enumerate(values)]


def rfc_view(value: str) -> str:
    """What an RFC 5424 receiver gives back for a PARAM-VALUE we wrote: the three RFC
    escapes are undone; our line-safety escapes of controls stay as text."""
    out = []
    for c in value:
        o = ord(c)
        if c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif (o < 0x20 and c != "\t") or 0x7F <= o < 0xA0:
            out.append(f"\\x{o:02X}")
        elif c in "\u2028\u2029":
            out.append(f"\\u{o:04X}")
        else:
            out.append(c)
    return "".join(out)


def make(raw: dict[str, Any], tel: Telemetry | None = None) -> Any:
    config = build(ComplianceConfig, {"procid": "4242", **raw}, "exporters.compliance")
    return FACTORY.create(make_settings(Kind.EXPORTER, "compliance", tel), config)


async def send(exporter: Any, recs: list[ComplianceRecord]) -> None:
    await exporter.start(StandaloneHost())
    await exporter.export_records(recs)
    assert await exporter.flush(20)
    await exporter.shutdown()


def counted(tel: Telemetry, what: str, output: str) -> float:
    return tel.counter(f"otelcol_exporter_compliance_records_{what}_total", "",
                       ()).get(("compliance", "syslog", output))


def check_sd(received: list[dict[str, Any]], sd_key: str, values: list[str]) -> None:
    assert len(received) == len(values)
    by_server = {r[sd_key]["mcp@49152"]["mcp_server"]: r for r in received}
    for i, v in enumerate(values):
        sd = by_server[f"srv{i}"][sd_key]["mcp@49152"]
        assert sd == {"mcp_server": f"srv{i}", "tool": rfc_view(v), "status": "success",
                      "duration": "1.5", "caller": rfc_view(v), "roles": "admin,ops",
                      "cost_cents": str(i)}, v


# ----------------------------------------------------------------------------- rsyslog

@needs_rsyslog
@pytest.mark.parametrize("transport", ["udp", "tcp", "tcp-lf"])
async def test_rsyslog_structured_data_intact(transport: str, tmp_path: Path) -> None:
    port = free_port()
    with Rsyslog(tmp_path, port) as daemon:
        scheme = transport.split("-")[0]
        values = HOSTILE if scheme != "udp" else HOSTILE[:-1]  # 3000 chars > one datagram
        exporter = make({"format": "syslog", "output": f"{scheme}://127.0.0.1:{port}",
                         "network": {"framing": "lf" if transport == "tcp-lf"
                                     else "octet_counting"}})
        await send(exporter, records(values))
        wait_for(lambda: len(daemon.records()) >= len(values), what="records in rsyslog")
    got = daemon.records()
    check_sd(got, "sd", values)
    assert {(r["pri"], r["msgid"], r["host"], r["app"], r["procid"]) for r in got} == {
        ("134", "101", "mcp-hangar", "mcp-hangar", "4242")}


@needs_rsyslog
@pytest.mark.parametrize("fmt", ["leef", "cef", "jsonlines"])
async def test_rsyslog_carries_other_formats_as_msg(fmt: str, tmp_path: Path) -> None:
    port = free_port()
    with Rsyslog(tmp_path, port) as daemon:
        exporter = make({"format": fmt, "output": f"tcp://127.0.0.1:{port}"})
        recs = records(HOSTILE)
        await send(exporter, recs)
        wait_for(lambda: len(daemon.records()) >= len(recs), what="records in rsyslog")
    msgs = [r["msg"] for r in daemon.records()]
    expected = [exporter.formatter.format(r) for r in recs]
    if fmt == "jsonlines":
        # free-text UTF-8 MSG: BOM exactly when the payload is not ASCII (RFC 5424 §6.4)
        expected = [e if e.isascii() else "\ufeff" + e for e in expected]
    # MSG is the payload byte for byte; LEEF:/CEF: start MSG without a BOM
    assert sorted(msgs) == sorted(expected)
    for m in msgs:
        if fmt == "leef":
            parse_leef(m)
        elif fmt == "cef":
            parse_cef(m)


@needs_rsyslog_tls
async def test_rsyslog_tls_with_server_verification(tmp_path: Path) -> None:
    cert, key, _, _ = self_signed(tmp_path, "localhost")
    port = free_port()
    with Rsyslog(tmp_path / "r", port, tls=(cert, key)) as daemon:
        # verification is on by default: without our CA the handshake must fail
        tel = Telemetry()
        untrusted = make({"format": "syslog", "output": f"tls://127.0.0.1:{port}",
                          "retry_on_failure": {"initial_interval": "1s"}}, tel)
        await untrusted.start(StandaloneHost())
        await untrusted.export_records(records(["x"]))
        await eventually(lambda: counted(tel, "failed", "tls") > 0, 10,
                         "the first (failing) handshake", interval=0.02)
        assert untrusted.queued_items == 1  # kept, not lost
        task = asyncio.ensure_future(untrusted.shutdown())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        exporter = make({"format": "syslog", "output": f"tls://127.0.0.1:{port}",
                         "network": {"tls": {"ca_file": str(cert), "server_name": "localhost"}}})
        await send(exporter, records(HOSTILE))
        wait_for(lambda: len(daemon.records()) >= len(HOSTILE), what="records over TLS")
    check_sd(daemon.records(), "sd", HOSTILE)


@needs_rsyslog
async def test_rsyslog_restart_mid_stream_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    with Rsyslog(tmp_path, port) as daemon:
        tel = Telemetry()
        exporter = make({"format": "syslog", "output": f"tcp://127.0.0.1:{port}",
                         "retry_on_failure": {"initial_interval": "50ms",
                                              "max_interval": "500ms"}}, tel)
        await exporter.start(StandaloneHost())
        recs = records([f"call{i}" for i in range(600)])
        for n, chunk_start in enumerate(range(0, 600, 20)):
            await exporter.export_records(recs[chunk_start:chunk_start + 20])
            await asyncio.sleep(0.01)
            if n == 10:
                await asyncio.to_thread(daemon.stop)  # the SIEM restarts mid-stream
            if n == 18:
                await asyncio.to_thread(daemon.start)
        assert await exporter.flush(30)
        await exporter.shutdown()
        wait_for(lambda: len({r["sd"]["mcp@49152"]["tool"] for r in daemon.records()}) >= 600,
                 timeout=20, what="all 600 records after the restart")
    tools = [r["sd"]["mcp@49152"]["tool"] for r in daemon.records()]
    assert set(tools) == {f"call{i}" for i in range(600)}
    # at-least-once: duplicates are possible only from the resend window
    assert len(tools) - 600 <= counted(tel, "resent", "tcp")


# ----------------------------------------------------------------------------- syslog-ng

@needs_syslog_ng
@pytest.mark.parametrize("transport", ["udp", "tcp", "lf", "tls"])
async def test_syslog_ng_structured_data_intact(transport: str, tmp_path: Path) -> None:
    cert, key, _, _ = self_signed(tmp_path, "localhost")
    ports = {"tcp": free_port(), "udp": free_port(), "lf": free_port(), "tls": free_port()}
    with SyslogNg(tmp_path / "sng", ports, tls=(cert, key)) as daemon:
        values = HOSTILE if transport != "udp" else HOSTILE[:-1]
        scheme = {"lf": "tcp"}.get(transport, transport)
        raw: dict[str, Any] = {"format": "syslog",
                               "output": f"{scheme}://127.0.0.1:{ports[transport]}"}
        if transport == "lf":
            raw["network"] = {"framing": "lf"}
        if transport == "tls":
            raw["network"] = {"tls": {"ca_file": str(cert), "server_name": "localhost"}}
        await send(make(raw), records(values))
        wait_for(lambda: len(daemon.records()) >= len(values), what="records in syslog-ng")
    got = daemon.records()
    assert not [r for r in got if "Error processing" in r.get("msg", "")]
    check_sd(got, "_SDATA", values)
    assert {(r["pri"], r["msgid"], r["procid"]) for r in got} == {("134", "101", "4242")}


# ----------------------------------------------------------------------------- CEF, LEEF

def _cef_view(value: str, chars: int = 0) -> str:
    """What CEF keeps of a value: cut to the key's length (with the marker), controls and
    Unicode line breaks as U+FFFD."""
    value, _ = clip(value, MAX_FIELD_BYTES, chars)
    return "".join("\ufffd" if (ord(c) < 0x20 and c not in "\t\n\r") or 0x7F <= ord(c) < 0xA0
                   or c in "\u2028\u2029" else c for c in value)


@needs_lognormalizer
def test_cef_through_lognormalizer(tmp_path: Path) -> None:
    rng = random.Random(5424)
    alphabet = [*"ab =|\\\"]\n\r\t^é漢😀", "\x00", "\x1b"]
    values = HOSTILE + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
                        for _ in range(200)]
    exporter = make({"format": "cef", "version": "1.1.0"})
    recs = records(values)
    lines = [exporter.formatter.format(r) for r in recs]
    parsed = lognormalize_cef(lines, tmp_path)
    assert len(parsed) == len(values)
    for v, p in zip(values, parsed, strict=True):
        assert "unparsed-data" not in p, (v, p)
        cef = p["cefmsg"]
        assert (cef["DeviceVendor"], cef["DeviceVersion"], cef["SignatureID"]) == (
            "MCP Hangar", "1.1.0", "101")
        ext = cef["Extensions"]
        assert ext["cs5"] == _cef_view(v, 4000)
        assert ext["suser"] == _cef_view(v, 1023)
        assert ext["act"] == "ToolInvocationCompleted"
        assert set(ext) == {"rt", "dvchost", "outcome", "suser", "suid", "spriv", "cs1",
                            "cs1Label", "cs5", "cs5Label", "cfp1", "cfp1Label", "cn2",
                            "cn2Label", "act"}


def test_leef_strict_splitter_on_hostile_values() -> None:
    exporter = make({"format": "leef"})
    for r, v in zip(records(HOSTILE), HOSTILE, strict=True):
        header, attrs = parse_leef(exporter.formatter.format(r))
        assert header[5] == "x09"
        assert attrs["action"] == v and attrs["usrName"] == clip(v, MAX_FIELD_BYTES, 255)[0]
        assert set(attrs) == {"devTime", "devTimeFormat", "cat", "usrName", "role", "action",
                              "duration", "costCents", "mcpServer",
                              *(["truncated"] if len(v) > 255 else [])}


@needs_rsyslog
async def test_rsyslog_parses_the_chain_element_back(tmp_path: Path) -> None:
    """Chained syslog (issue 16): rsyslog's mmpstrucdata gives back the mcp element intact
    and the chain element with the same values as the same records written to a file,
    which verifies."""
    from hangar_otelcol.exporters.compliance.chain import parse_link
    from hangar_otelcol.exporters.compliance.verify import verify

    port = free_port()
    chain = {"enabled": True, "stream": "gw-w0-compliance"}
    with Rsyslog(tmp_path, port) as daemon:
        exporter = make({"format": "syslog", "output": f"tcp://127.0.0.1:{port}",
                         "chain": chain})
        await send(exporter, records(HOSTILE))
        wait_for(lambda: len(daemon.records()) >= len(HOSTILE) + 1, what="records in rsyslog")
    out = tmp_path / "same.log"
    await send(make({"format": "syslog", "output": str(out), "chain": chain}),
               records(HOSTILE))
    result = verify([str(out)], None)
    assert result.ok and result.records == len(HOSTILE), result.problem
    links = [parse_link(line) for line in out.read_bytes().splitlines()]
    got = daemon.records()
    calls = [r for r in got if r["msgid"] != "ChainCheckpoint"]
    check_sd([{**r, "sd": {"mcp@49152": r["sd"]["mcp@49152"]}} for r in calls], "sd", HOSTILE)
    expected = [{"stream": "gw-w0-compliance", "seq": str(i), "mac": link.mac.hex()}
                for i, link in enumerate(links, 1) if link is not None]
    # the 3000-character record lost its MSG to fit 8192 bytes over TCP (RFC 5424 §6.1):
    # the chain covers what was sent, so from there on the values differ from the file's
    assert [r["sd"]["chain@49152"] for r in got[:20]] == expected[:20]
    assert [r["sd"]["chain@49152"]["seq"] for r in got] == [
        str(i) for i in range(1, len(HOSTILE) + 2)]
    assert got[-1]["msgid"] == "ChainCheckpoint" and got[-1]["sd"]["chain@49152"]["seq"] == \
        str(len(HOSTILE) + 1)


@needs_syslog_ng
async def test_syslog_ng_parses_the_chain_element_back(tmp_path: Path) -> None:
    """Chained syslog (issue 16) into syslog-ng over TCP: its RFC 5424 parser gives back the
    mcp element intact and the chain element with the values of the same records written to
    a file, which verifies; the checkpoint arrives last with the next sequence number."""
    from hangar_otelcol.exporters.compliance.chain import parse_link
    from hangar_otelcol.exporters.compliance.verify import verify

    ports = {"tcp": free_port(), "udp": free_port(), "lf": free_port()}
    chain = {"enabled": True, "stream": "gw-w0-compliance"}
    values = [v for v in HOSTILE if len(v) < 1000]  # whole records: none cut to fit 8 KiB
    with SyslogNg(tmp_path / "sng", ports) as daemon:
        exporter = make({"format": "syslog", "output": f"tcp://127.0.0.1:{ports['tcp']}",
                         "chain": chain})
        await send(exporter, records(values))
        wait_for(lambda: len(daemon.records()) >= len(values) + 1,
                 what="records in syslog-ng")
    out = tmp_path / "same.log"
    await send(make({"format": "syslog", "output": str(out), "chain": chain}), records(values))
    result = verify([str(out)], None)
    assert result.ok and result.records == len(values), result.problem
    links = [parse_link(line) for line in out.read_bytes().splitlines()]
    got = daemon.records()
    calls = [r for r in got if r["msgid"] != "ChainCheckpoint"]
    check_sd([{**r, "_SDATA": {"mcp@49152": r["_SDATA"]["mcp@49152"]}} for r in calls],
             "_SDATA", values)
    expected = [{"stream": "gw-w0-compliance", "seq": str(i), "mac": link.mac.hex()}
                for i, link in enumerate(links, 1) if link is not None]
    assert [r["_SDATA"]["chain@49152"] for r in calls] == expected[:len(values)]
    assert got[-1]["msgid"] == "ChainCheckpoint"
    assert got[-1]["_SDATA"]["chain@49152"]["seq"] == str(len(values) + 1)
