"""Chained compliance records (issue 16): the chain per format, checkpoints, ``verify``
after tampering, and the chain continuing after a restart (exporters/compliance/chain.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from hangar_otelcol.cli import main
from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.exporters.compliance.chain import (
    GENESIS,
    Chain,
    chain_value,
    parse_link,
)
from hangar_otelcol.exporters.compliance.config import ComplianceConfig
from hangar_otelcol.exporters.compliance.factory import FACTORY
from hangar_otelcol.exporters.compliance.formats import formatter_for
from hangar_otelcol.exporters.compliance.formats.options import FormatOptions
from hangar_otelcol.exporters.compliance.record import ComplianceRecord
from hangar_otelcol.exporters.compliance.verify import verify
from hangar_otelcol.testing import StandaloneHost, make_settings

FORMATS = ("jsonlines", "leef", "syslog", "cef")
KEY = b"test key"


def records(n: int, start: int = 0) -> list[ComplianceRecord]:
    return [ComplianceRecord(event_type="ToolInvocationCompleted",
                             time_unix_nano=1_780_000_000_000_000_000 + i * 1000,
                             mcp_server_id="srv ]\"=|\\", tool_name=f"tool[chain@1 x] {i}",
                             status="success", duration_ms=1.5, caller_id="alice",
                             record_id=f"{i + 1:032x}")
            for i in range(start, start + n)]


def line_of(fmt: str, r: ComplianceRecord) -> bytes:
    return formatter_for(fmt, FormatOptions(procid="1")).format(r).encode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_seal_then_parse_gives_back_the_line_and_the_chain(fmt: str) -> None:
    chain = Chain(fmt, "host-w0-compliance", KEY)
    prev = GENESIS
    for seq, r in enumerate(records(3), 1):
        line = line_of(fmt, r)
        sealed = chain.seal(line)
        link = parse_link(sealed)
        assert link is not None, sealed
        assert (link.fmt, link.stream, link.seq, link.canonical) == (
            fmt, "host-w0-compliance", seq, line)
        assert link.mac == chain_value(KEY, prev, b"host-w0-compliance", seq, line)
        prev = link.mac


def test_the_chain_fields_in_each_format() -> None:
    r = records(1)[0]
    sealed = {fmt: Chain(fmt, "s1").seal(line_of(fmt, r)) for fmt in FORMATS}
    assert sealed["jsonlines"].endswith(b',"record_id":"00000000000000000000000000000001",'
                                        b'"chain":{"stream":"s1","seq":1,"mac":"' +
                                        parse_link(sealed["jsonlines"]).mac.hex().encode()  # type: ignore[union-attr]
                                        + b'"}}')
    assert b"\tchainStream=s1\tchainSeq=1\tchainMac=" in sealed["leef"]
    assert b" act=ToolInvocationCompleted deviceExternalId=s1 cn1=1 cn1Label=ChainSeq " \
        b"mcpHangarChainMac=" in sealed["cef"]
    # syslog: the last SD element, before MSG (which here contains a look-alike)
    assert b'"][chain@49152 stream="s1" seq="1" mac="' in sealed["syslog"]
    assert sealed["syslog"].index(b"[chain@49152") < sealed["syslog"].index(b" Tool ")


def test_a_plain_chain_without_key_is_sha256() -> None:
    import hashlib
    line = b"{}"
    assert chain_value(None, GENESIS, b"s", 1, line) == hashlib.sha256(
        GENESIS + b"s\n1\n{}").digest()


# ----------------------------------------------------------------------------- exporter

def make(raw: dict):  # type: ignore[no-untyped-def]
    config = build(ComplianceConfig, raw, "exporters.compliance")
    return FACTORY.create(make_settings(Kind.EXPORTER, "compliance"), config)


async def write(fmt: str, out: Path, recs: list[ComplianceRecord], file: dict | None = None,
                **chain: object) -> None:
    exporter = make({"format": fmt, "output": str(out), "procid": "1", "file": file or {},
                     "chain": {"enabled": True, "stream": "gw-w0-compliance", **chain}})
    await exporter.start(StandaloneHost())
    await exporter.export_records(recs)
    assert await exporter.flush(5)
    await exporter.shutdown()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "chain.key"
    path.write_bytes(KEY + b"\n")
    return path


def run_verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["verify", *args])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("fmt", FORMATS)
async def test_verify_passes_untouched_and_names_each_tampering(
        fmt: str, tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"out.{fmt}"
    await write(fmt, out, records(6), key_file=str(key_file))
    good = out.read_bytes()
    lines = good.splitlines(keepends=True)
    assert len(lines) == 7  # 6 records and the final checkpoint
    code, text = run_verify(capsys, "--key-file", str(key_file), str(out))
    assert code == 0, text
    assert "6 records and 1 checkpoints verified" in text

    other = tmp_path / f"other.{fmt}"
    await write(fmt, other, records(6), key_file=str(key_file), stream="gw-w1-compliance")
    spliced_line = other.read_bytes().splitlines(keepends=True)[3]

    def damaged(name: str, data: bytes) -> str:
        path = tmp_path / f"{name}.{fmt}"
        path.write_bytes(data)
        code, text = run_verify(capsys, "--key-file", str(key_file), str(path))
        assert code == 1, (name, text)
        return text

    edit_at = lines[0].index(b"alice") + 1 + sum(len(x) for x in lines[:2])  # line 3
    edited = good[:edit_at] + b"X" + good[edit_at + 1:]
    assert f"edited.{fmt}:3: edited" in damaged("edited", edited)
    assert f"deleted.{fmt}:3: missing sequence numbers 3 " in damaged(
        "deleted", b"".join(lines[:2] + lines[3:]))
    assert f"swapped.{fmt}:3: reordered" in damaged(
        "swapped", b"".join([*lines[:2], lines[3], lines[2], *lines[4:]]))
    assert f"truncated.{fmt}:5: truncated after the last checkpoint" in damaged(
        "truncated", b"".join(lines[:5]))
    assert f"torn.{fmt}:5: truncated" in damaged("torn", b"".join(lines[:4]) + lines[4][:20])
    assert f"spliced.{fmt}:4: unknown stream gw-w1-compliance" in damaged(
        "spliced", b"".join([*lines[:3], spliced_line, *lines[3:]]))
    # a wrong key is an edit of every record
    code, text = run_verify(capsys, str(out))
    assert code == 1 and f"out.{fmt}:1: edited" in text and "needs --key-file" in text


async def test_a_restart_continues_the_chain_from_the_file_and_rotated_sets_verify(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    await write("jsonlines", out, records(3))
    await write("jsonlines", out, records(3, start=3))  # restart: seq 4.., not a new chain
    rotated = tmp_path / "out.jsonl.1"  # logrotate copytruncate (with delaycompress)
    rotated.write_bytes(out.read_bytes())
    out.write_bytes(b"")
    await write("jsonlines", out, records(2, start=6))
    older = tmp_path / "out.jsonl.1.gz"  # compressed later: verify reads it as well
    older.write_bytes(gzip.compress(rotated.read_bytes()))
    for first in (rotated, older):
        result = verify([str(first), str(out)], None)
        assert result.ok, result.problem
        assert (result.records, result.checkpoints) == (8, 3)
        assert result.streams == {"gw-w0-compliance": 11}


@pytest.mark.parametrize("key", [None, b"", b"k", b"k" * 64, b"k" * 65])
def test_the_fast_hasher_is_hmac_sha256(key: bytes | None) -> None:
    from hangar_otelcol.exporters.compliance.chain import Hasher
    assert Hasher(key)(GENESIS, b"s", 7, b"line") == chain_value(key, GENESIS, b"s", 7, b"line")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_record_naming_a_checkpoint_is_no_checkpoint(fmt: str) -> None:
    from hangar_otelcol.exporters.compliance.chain import CHECKPOINT, checkpoint_maker
    r = records(1)[0]
    r.tool_name = '|ChainCheckpoint| "event_type":"ChainCheckpoint" final=1'
    assert CHECKPOINT.search(line_of(fmt, r)) is None
    assert CHECKPOINT.search(checkpoint_maker(fmt, FormatOptions(procid="1"))(0, True))


def test_syslog_without_parameters_or_msg_still_chains() -> None:
    chain = Chain("syslog", "s")
    for line in (b"<134>1 2026-01-01T00:00:00Z h a 1 101 [mcp@49152] Tool x [a] y",
                 b'<134>1 2026-01-01T00:00:00Z h a 1 101 [mcp@49152 a="1"][x@1 b="\\]"]',
                 b'<134>1 2026-01-01T00:00:00Z h a 1 101 [mcp@49152 a="1 \\"] [chain@1"] m'):
        link = parse_link(chain.seal(line))
        assert link is not None and link.canonical == line, line


@pytest.mark.parametrize("fmt", FORMATS)
async def test_signed_checkpoints_verify_with_the_public_key_only(
        fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    signing = tmp_path / "signing.pem"
    signing.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    public = tmp_path / "public.pem"
    public.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    out = tmp_path / f"out.{fmt}"
    await write(fmt, out, records(3), signing_key_file=str(signing))  # SHA-256 chain
    code, text = run_verify(capsys, "--public-key", str(public), str(out))
    assert code == 0, text
    lines = out.read_bytes().splitlines(keepends=True)
    # a forger recomputes the plain chain after an edit: the checkpoint's signature fails
    link = parse_link(lines[-1].rstrip(b"\n"))
    assert link is not None and link.sig is not None
    forged = tmp_path / f"forged.{fmt}"
    chain = Chain(fmt, "gw-w0-compliance")
    chain.signer = Ed25519PrivateKey.generate()  # not the gateway's key
    canon = [parse_link(x.rstrip(b"\n")).canonical for x in lines]  # type: ignore[union-attr]
    forged.write_bytes(b"".join(chain.seal(c, sign=i == len(canon) - 1) + b"\n"
                                for i, c in enumerate(canon)))
    assert run_verify(capsys, str(forged))[0] == 0  # the plain chain alone cannot tell
    code, text = run_verify(capsys, "--public-key", str(public), str(forged))
    assert code == 1 and f"forged.{fmt}:4: edited (the signature of checkpoint 4" in text


async def test_the_chain_state_goes_with_the_queue_checkpoint() -> None:
    exporter = make({"format": "cef", "output": "stderr",
                     "chain": {"enabled": True, "stream": "s"}})
    last = bytes.fromhex("ab" * 32)
    await exporter.restore_state({"compliance.chain": b"s 5 " + last.hex().encode()})
    link = parse_link(exporter.render(records(1)[0]).rstrip(b"\n"))
    assert link is not None and link.seq == 6
    assert link.mac == chain_value(None, last, b"s", 6, link.canonical)
    assert exporter.checkpoint_state()["compliance.chain"] == b"s 5 " + last.hex().encode()
    assert "compliance.chain" not in exporter.checkpoint_state()  # saved only when it moved
    exporter.chain.committed = (exporter.chain.seq, exporter.chain.last)  # as send() does
    assert exporter.checkpoint_state()["compliance.chain"] == b"s 6 " + link.mac.hex().encode()
    # another stream's state (another worker's, a renamed stream) is not taken over
    other = make({"format": "cef", "output": "stderr",
                  "chain": {"enabled": True, "stream": "t"}})
    await other.restore_state({"compliance.chain": b"s 5 " + last.hex().encode()})
    assert other.chain.seq == 0


async def test_the_exporters_own_rotation_continues_the_chain(tmp_path: Path) -> None:
    out = tmp_path / "rot.log"
    await write("leef", out, records(40), file={"rotate_size": 3000, "keep": 20})
    rotated = sorted(tmp_path.glob("rot.log.*"), key=lambda p: -int(p.suffix[1:]))
    assert len(rotated) > 3
    result = verify([*map(str, rotated), str(out)], None)
    assert result.ok and result.records == 40, result.problem
    result = verify([*map(str, rotated[1:]), str(out)], None)  # the oldest file deleted
    assert "missing sequence numbers 1-" in result.problem


def test_the_default_stream_id_names_host_worker_and_exporter() -> None:
    from hangar_otelcol.exporters.compliance.chain import stream_id
    assert stream_id("gw1.example", 2, "compliance/qradar") == "gw1.example-w2-compliance_qradar"
    exporter = make({"format": "jsonlines", "output": "stderr", "chain": {"enabled": True}})
    import socket
    assert exporter.chain.stream.startswith(f"{socket.gethostname()}-w0-compliance")


def test_without_saved_state_each_start_of_a_network_output_is_a_new_stream(
        tmp_path: Path) -> None:
    """A network output with a memory queue keeps no chain state across a restart: a restart
    starts a new stream (named by its start time) instead of restarting the old stream at
    sequence 1, which verify would report as reordered. A file output continues from the
    file's tail, and an explicit stream id is used as given."""
    import socket
    import time
    default = f"{socket.gethostname()}-w0-compliance"
    udp = {"format": "syslog", "output": "udp://127.0.0.1:9", "chain": {"enabled": True}}
    first = make(udp)
    time.sleep(0.01)
    second = make(udp)
    assert first.chain.stream.startswith(default + "-")
    assert first.chain.stream != second.chain.stream
    named = make({**udp, "chain": {"enabled": True, "stream": "gw-udp"}})
    assert named.chain.stream == "gw-udp"
    to_file = make({"format": "syslog", "output": str(tmp_path / "out.log"),
                    "chain": {"enabled": True}})
    assert to_file.chain.stream == default


async def test_a_resend_is_a_duplicate_unless_allowed(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    await write("jsonlines", out, records(4))
    lines = out.read_bytes().splitlines(keepends=True)
    resent = tmp_path / "resent.jsonl"  # records 2-3 sent again after a broken connection
    resent.write_bytes(b"".join([*lines[:3], lines[1], lines[2], *lines[3:]]))
    assert "resent.jsonl:4: duplicated" in verify([str(resent)], None).problem
    result = verify([str(resent)], None, allow_resent=True)
    assert result.ok and (result.records, result.resent) == (4, 2), result.problem
    # an edited copy is no resend
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(b"".join([*lines[:3], lines[1].replace(b"alice", b"alicf"),
                                 *lines[3:]]))
    assert "edited.jsonl:4:" in verify([str(edited)], None, allow_resent=True).problem


@pytest.mark.parametrize("fmt", ["leef", "cef", "jsonlines"])
def test_over_the_network_the_chain_covers_the_payload_not_the_envelope(fmt: str) -> None:
    exporter = make({"format": fmt, "output": "tcp://127.0.0.1:9", "network": {"framing": "lf"},
                     "chain": {"enabled": True, "stream": "s"}})
    r = records(1)[0]
    r.tool_name = "été"  # a JSON payload gets the BOM: outside the chain too
    framed = exporter.render(r)
    assert framed.startswith(b"<134>1 ") and framed.endswith(b"\n")
    link = parse_link(framed[:-1])
    assert link is not None and link.canonical == exporter.formatter.format(r).encode()
    assert link.mac == chain_value(None, GENESIS, b"s", 1, link.canonical)


async def test_a_moved_file_continues_from_its_rotated_predecessor(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.log"
    await write("syslog", out, records(3))
    out.rename(tmp_path / "out.log.1")  # logrotate (create): the gateway restarts before
    await write("syslog", out, records(2, start=3))  # ... a new file exists
    assert verify([str(tmp_path / "out.log.1"), str(out)], None).ok
    # --open: a file still being written may end in the middle of a line
    with out.open("ab") as f:
        f.write(b"<134>1 2026-")
    assert "truncated" in verify([str(out.with_suffix(".log.1")), str(out)], None).problem
    code, text = run_verify(capsys, "--open", str(tmp_path / "out.log.1"), str(out))
    assert code == 0, text


def test_a_missing_key_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from hangar_otelcol.config.types import ConfigError
    monkeypatch.delenv("NO_SUCH_CHAIN_KEY", raising=False)
    with pytest.raises(ConfigError) as err:
        build(ComplianceConfig, {"format": "cef", "chain": {"enabled": True,
                                                            "key_env": "NO_SUCH_CHAIN_KEY"}},
              "exporters.compliance")
    assert any("chain.key_env: the environment variable" in e for e in err.value.errors)
