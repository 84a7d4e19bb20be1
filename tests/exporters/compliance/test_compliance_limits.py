"""Size caps, line breaks and file checks of the compliance exporter (issue 13): a huge
value cuts its own field (marker, record id intact), never the line tail; every Unicode
line break is escaped, so ``str.splitlines()`` sees one line per record in every format;
the file output refuses symlinks, directories and FIFOs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.exporters.compliance.config import ComplianceConfig
from hangar_otelcol.exporters.compliance.factory import FACTORY
from hangar_otelcol.exporters.compliance.formats import formatter_for
from hangar_otelcol.exporters.compliance.formats.common import (
    MAX_FIELD_BYTES,
    MAX_LINE_BYTES,
    clip,
)
from hangar_otelcol.exporters.compliance.formats.options import FormatOptions
from hangar_otelcol.exporters.compliance.record import ComplianceRecord
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.exporters.compliance.parsers import parse_cef, parse_leef, parse_syslog

FORMATS = ("jsonlines", "leef", "syslog", "cef")
RID = "5f0c" * 8
BIG = 10 * 1024 * 1024
#: everything str.splitlines() ends a line at
BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
MARKER = "\u2026[truncated "


def record(**fields: Any) -> ComplianceRecord:
    base: dict[str, Any] = {"event_type": "ToolInvocationCompleted",
                            "time_unix_nano": 1_778_414_400_000_000_000, "mcp_server_id": "math",
                            "tool_name": "add", "status": "success", "duration_ms": 12.0,
                            "caller_id": "alice", "record_id": RID}
    return ComplianceRecord(**{**base, **fields})


def fields_of(fmt: str, line: str) -> dict[str, str]:
    """The record's fields as the format's strict parser gives them back."""
    if fmt == "jsonlines":
        return orjson.loads(line)  # type: ignore[no-any-return]
    if fmt == "leef":
        return parse_leef(line)[1]
    if fmt == "syslog":
        return parse_syslog(line)["sd"]["mcp@49152"]
    return parse_cef(line)[1]


TOOL_KEY = {"jsonlines": "tool_name", "leef": "action", "syslog": "tool", "cef": "cs5"}
CALLER_KEY = {"jsonlines": "caller_id", "leef": "usrName", "syslog": "caller", "cef": "suser"}
ID_KEY = {"jsonlines": "record_id", "leef": "recordId", "syslog": "record_id",
          "cef": "externalId"}


# ----------------------------------------------------------------------------- clip

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.integers(40, 500), st.integers(0, 300))
def test_clip_keeps_a_prefix_and_says_how_much_is_gone(value: str, max_bytes: int,
                                                       max_chars: int) -> None:
    max_chars = max_chars and max_chars + 30
    out, dropped = clip(value, max_bytes, max_chars)
    size = len(value.encode("utf-8", "surrogatepass"))
    if size <= max_bytes and (not max_chars or len(value) <= max_chars):
        assert (out, dropped) == (value, 0)
        return
    head, sep, tail = out.rpartition(MARKER)
    assert sep and tail == f"{dropped} bytes]" and value.startswith(head)
    assert dropped == size - len(head.encode("utf-8", "surrogatepass")) > 0
    assert len(out.encode("utf-8", "surrogatepass")) <= max_bytes
    assert not max_chars or len(out) <= max_chars


# ----------------------------------------------------------------------------- caps

@pytest.mark.parametrize("fmt", FORMATS)
def test_a_10_mb_tool_name_cuts_that_field_only(fmt: str) -> None:
    formatter: Any = formatter_for(fmt, FormatOptions())
    line = formatter.format(record(tool_name="t" * BIG))
    # the one long field, capped (syslog's MSG repeats the tool name)
    assert len(line.encode()) <= (2 if fmt == "syslog" else 1) * MAX_FIELD_BYTES + 1024
    got = fields_of(fmt, line)
    assert got[ID_KEY[fmt]] == RID
    assert got[CALLER_KEY[fmt]] == "alice"
    tool = got[TOOL_KEY[fmt]]
    assert tool.startswith("tttt") and MARKER in tool and tool.endswith(" bytes]")
    assert int(tool.rsplit(MARKER, 1)[1].split()[0]) == BIG - tool.index(MARKER)
    if fmt == "jsonlines":
        assert got["truncated"] == ["tool_name"]
    elif fmt == "leef":
        assert got["truncated"] == "action"
    elif fmt == "syslog":
        assert got["truncated"] == "tool"


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_long_fields_keep_the_line_under_its_cap(fmt: str) -> None:
    big = "x\u2028" * (BIG // 2)  # escapes grow: the cap counts the escaped line
    r = record(mcp_server_id=big, tool_name=big, error_type=big, caller_type=big,
               caller_id=big, caller_roles=big, cost_model=big, status="success")
    formatter: Any = formatter_for(fmt, FormatOptions())
    seen: list[int] = []
    formatter.limits.on_truncate = lambda: seen.append(1)
    line = formatter.format(r)
    assert len(line.encode()) <= MAX_LINE_BYTES
    assert seen == [1]
    got = fields_of(fmt, line)
    assert got[ID_KEY[fmt]] == RID
    assert line.count(MARKER) >= 7


@pytest.mark.parametrize("fmt", FORMATS)
def test_caps_are_configurable(fmt: str) -> None:
    options = FormatOptions(max_field_bytes=100, max_line_bytes=4096)
    formatter: Any = formatter_for(fmt, options)
    got = fields_of(fmt, formatter.format(record(tool_name="é" * 1000)))
    tool = got[TOOL_KEY[fmt]]
    head = tool.split(MARKER)[0]
    assert len(tool.encode()) <= 100 and head == "é" * len(head)
    assert tool.endswith(f"{MARKER}{2000 - len(head.encode())} bytes]")


def test_short_records_are_unchanged() -> None:
    for fmt in FORMATS:
        formatter: Any = formatter_for(fmt, FormatOptions())
        line = formatter.format(record())
        assert MARKER not in line and "truncated" not in line


def test_cap_settings_are_validated() -> None:
    with pytest.raises(ConfigError) as exc:
        build(ComplianceConfig, {"max_field_size": 10, "max_line_size": "1KiB"}, "x")
    assert exc.value.errors == [
        "x.max_field_size: must be between 64 and 16777216 bytes, got 10",
        "x.max_line_size: must be between 2048 and 16777216 bytes, got 1024"]
    with pytest.raises(ConfigError) as exc:
        build(ComplianceConfig, {"max_field_size": "1MiB", "max_line_size": "64KiB"}, "x")
    assert exc.value.errors == ["x.max_field_size: must not be larger than max_line_size "
                                "(65536), got 1048576"]


# ----------------------------------------------------------------------------- line breaks

HOSTILE = ["a\u2028b", "p\u2029q", "n\x85el", "v\x0bt", "f\x0cf", "fs\x1c\x1d\x1e",
           "c1\x80\x9f", "del\x7f", "all" + BREAKS, "\r\n"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_line_break_is_escaped(fmt: str, tmp_path: Path) -> None:
    formatter: Any = formatter_for(fmt, FormatOptions())
    records = [record(tool_name=v, caller_id=v, error_type=v, caller_roles=v,
                      status="error") for v in HOSTILE]
    text = "".join(formatter.format(r) + "\n" for r in records)
    path = tmp_path / "out.log"
    path.write_text(text, encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(records)
    assert not any(c in line for line in lines for c in BREAKS)
    for v, line in zip(HOSTILE, lines, strict=True):
        got = fields_of(fmt, line)
        if fmt == "cef":  # CEF has no escape for them: U+FFFD (LF/CR are \n, \r)
            expected = "".join("\ufffd" if (c in BREAKS and c not in "\n\r") or
                               0x7F <= ord(c) < 0xA0 else c for c in v)
        else:  # the documented unescape gives the original back
            expected = v
        assert got[TOOL_KEY[fmt]] == expected
        assert got[CALLER_KEY[fmt]] == expected


def test_jsonlines_escapes_in_json_style() -> None:
    line = formatter_for("jsonlines", FormatOptions()).format(  # type: ignore[attr-defined]
        record(tool_name="\u2028\u2029\x85\x7f\x9f"))
    assert '"tool_name":"\\u2028\\u2029\\u0085\\u007f\\u009f"' in line


def test_leef_and_syslog_escape_as_documented() -> None:
    v = "\u2028\x85\x0b"
    leef = formatter_for("leef", FormatOptions()).format(  # type: ignore[attr-defined]
        record(tool_name=v))
    assert "action=\\u2028\\x85\\x0B\t" in leef
    syslog = formatter_for("syslog", FormatOptions()).format(  # type: ignore[attr-defined]
        record(tool_name=v))
    assert 'tool="\\u2028\\x85\\x0B"' in syslog


def test_header_fields_cannot_carry_line_breaks() -> None:
    with pytest.raises(ConfigError):
        build(ComplianceConfig, {"vendor": "A\u2028B"}, "x")
    with pytest.raises(ConfigError):
        build(ComplianceConfig, {"leef": {"delimiter": "x85"}}, "x")
    for fmt in ("leef", "cef"):
        line = formatter_for(fmt, FormatOptions()).format(  # type: ignore[attr-defined]
            record(service_version="1\u2028\x85"))
        assert len(line.splitlines()) == 1


# ----------------------------------------------------------------------------- exporter

async def test_the_exporter_counts_truncated_records(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    tel = Telemetry()
    config = build(ComplianceConfig, {"format": "jsonlines", "output": str(out)},
                   "exporters.compliance")
    exporter: Any = FACTORY.create(make_settings(Kind.EXPORTER, "compliance", tel), config)
    await exporter.start(StandaloneHost())
    await exporter.export_records([record(tool_name="t" * BIG, record_id=f"{i:032x}")
                                   for i in range(3)] + [record(record_id="f" * 32)])
    assert await exporter.flush(5)
    await exporter.shutdown()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and all(len(line) <= MAX_FIELD_BYTES + 1024 for line in lines)
    assert tel.counter("otelcol_exporter_compliance_records_truncated_total", "", ()).get(
        ("compliance", "jsonlines", "file")) == 3


# ----------------------------------------------------------------------------- files

def _output_errors(path: Path | str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        build(ComplianceConfig, {"format": "jsonlines", "output": str(path)},
              "exporters.compliance/x")
    return exc.value.errors


def test_validate_refuses_a_directory(tmp_path: Path) -> None:
    assert _output_errors(tmp_path) == [f"exporters.compliance/x.output: {tmp_path} is a "
                                        "directory"]


def test_validate_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.log"
    target.write_text("")
    link = tmp_path / "c.log"
    link.symlink_to(target)
    (error,) = _output_errors(link)
    assert error.startswith(f"exporters.compliance/x.output: {link} is a symbolic link")


def test_validate_refuses_a_fifo_and_a_device(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert _output_errors(fifo) == [f"exporters.compliance/x.output: {fifo} is a FIFO, not "
                                    "a regular file"]
    assert _output_errors("/dev/null") == ["exporters.compliance/x.output: /dev/null is a "
                                           "device, not a regular file"]


def test_validate_refuses_a_missing_directory(tmp_path: Path) -> None:
    (error,) = _output_errors(tmp_path / "nope" / "c.log")
    assert error == (f"exporters.compliance/x.output: directory '{tmp_path / 'nope'}' of the "
                     "output file does not exist")


def test_a_regular_or_new_file_is_fine(tmp_path: Path) -> None:
    (tmp_path / "old.log").write_text("")
    for name in ("old.log", "new.log"):
        build(ComplianceConfig, {"format": "jsonlines", "output": str(tmp_path / name)}, "x")


async def test_a_fifo_planted_after_validate_does_not_block_the_writer(tmp_path: Path) -> None:
    from hangar_otelcol.exporters.compliance.outputs.file import open_regular

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    with pytest.raises(OSError, match="not a regular file"):
        open_regular(str(fifo), flags)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # with a reader it opens: refused
    try:
        with pytest.raises(OSError, match="not a regular file"):
            open_regular(str(fifo), flags)
    finally:
        os.close(reader)
