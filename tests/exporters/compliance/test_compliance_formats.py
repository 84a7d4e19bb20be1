"""The four formats: the seed's example event, hangar's record types, and
property tests that hostile values survive each format without adding or
removing a field (checked by the strict parsers in compliance_parsers.py)."""

from __future__ import annotations

import datetime as dt
import io

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hangar_otelcol.exporters.compliance.api import Compliance, export_tool_invocation
from hangar_otelcol.exporters.compliance.formats.cef import CefFormatter
from hangar_otelcol.exporters.compliance.formats.common import MAX_FIELD_BYTES, clip
from hangar_otelcol.exporters.compliance.formats.jsonlines import JsonLinesFormatter
from hangar_otelcol.exporters.compliance.formats.leef import LeefFormatter
from hangar_otelcol.exporters.compliance.formats.options import FormatOptions
from hangar_otelcol.exporters.compliance.formats.syslog import SyslogFormatter
from hangar_otelcol.exporters.compliance.record import ComplianceRecord
from tests.exporters.compliance.parsers import ParseError, parse_cef, parse_leef, parse_syslog

SEED_TIME = dt.datetime(2026, 5, 10, 12, 0, 0, tzinfo=dt.UTC)
SEED_OPTIONS = FormatOptions(procid="1234")  # hangar's pid in the seed's syslog line
SEED_EVENT = {"mcp_server_id": "math", "tool_name": "add", "status": "success",
              "duration_ms": 12, "caller_id": "alice", "timestamp": SEED_TIME,
              "service_version": "1.1.0"}

# The seed's lines for its example event, and ours where a standard forces a difference
# (each difference is listed in docs/compliance-formats.md, "Differences from the seed").
SEED_JSON = ('{"timestamp":"2026-05-10T12:00:00+00:00","event_type":"ToolInvocationCompleted",'
             '"mcp_server_id":"math","tool_name":"add","status":"success","duration_ms":12,'
             '"caller_id":"alice"}')
SEED_SYSLOG = ('<134>1 2026-05-10T12:00:00Z mcp-hangar mcp-hangar 1234 101 [mcp@49152 '
               'mcp_server="math" tool="add" status="success" duration="12" caller="alice"] '
               'Tool add on mcp_server math success')
OUR_LEEF = ("LEEF:2.0|MCP Hangar|MCP Hangar|1.1.0|101|x09|devTime=May 10 2026 12:00:00\t"
            "devTimeFormat=MMM dd yyyy HH:mm:ss\tcat=tool\tusrName=alice\taction=add\t"
            "duration=12\tmcpServer=math")
OUR_CEF = ("CEF:0|MCP Hangar|MCP Hangar|1.1.0|101|Tool Invocation Completed|1|rt=1778414400000 "
           "dvchost=mcp-hangar outcome=success suser=alice suid=alice cs1=math "
           "cs1Label=McpServerId cs5=add cs5Label=ToolName cfp1=12 cfp1Label=DurationMs "
           "act=ToolInvocationCompleted")


@pytest.mark.parametrize(("fmt", "expected"), [
    ("jsonlines", SEED_JSON), ("json-lines", SEED_JSON), ("syslog", SEED_SYSLOG),
    ("leef", OUR_LEEF), ("cef", OUR_CEF)])
def test_seed_example_event(fmt: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = export_tool_invocation(format=fmt, output="stdout", options=SEED_OPTIONS,
                                  **SEED_EVENT)
    assert line == expected
    assert capsys.readouterr().out == expected + "\n"


def test_seed_leef_differs_only_by_documented_fixes() -> None:
    seed = ("LEEF:2.0|MCP Hangar|MCP Hangar|1.1.0|101|\tdevTime=May 10 2026 12:00:00\t"
            "proto=tool\taction=add\tduration=12\tsrc=math")
    fixed = (seed.replace("101|\t", "101|x09|")  # the missing DelimiterCharacter field
             .replace("12:00:00\t", "12:00:00\tdevTimeFormat=MMM dd yyyy HH:mm:ss\t", 1)
             .replace("proto=tool", "cat=tool\tusrName=alice")  # proto is typed; caller
             .replace("src=math", "mcpServer=math"))  # src must be an IP address
    assert fixed == OUR_LEEF
    header, attrs = parse_leef(OUR_LEEF)
    assert header[5] == "x09"
    assert attrs["devTime"] == "May 10 2026 12:00:00"


def _seed_record(**changes: object) -> ComplianceRecord:
    base = Compliance("jsonlines").record_tool_invocation(**SEED_EVENT)
    for k, v in changes.items():
        setattr(base, k, v)
    return base


@pytest.mark.parametrize(("status", "event_type", "event_id", "pri", "cef_sev"), [
    ("success", "ToolInvocationCompleted", 101, 134, 1),
    ("error", "ToolInvocationFailed", 102, 131, 7),
    ("denied", "ToolInvocationDenied", 103, 132, 5),
])
def test_record_types_ids_and_severities(status: str, event_type: str, event_id: int, pri: int,
                                         cef_sev: int) -> None:
    c = Compliance("syslog", options=SEED_OPTIONS)
    r = c.record_tool_invocation(**{**SEED_EVENT, "status": status})
    assert r.event_type == event_type
    parsed = parse_syslog(SyslogFormatter(SEED_OPTIONS).format(r))
    assert (parsed["pri"], parsed["msgid"]) == (pri, str(event_id))
    header, _ = parse_cef(CefFormatter(SEED_OPTIONS).format(r))
    assert header[4:7] == [str(event_id), event_type.replace("ToolInvocation",
                                                             "Tool Invocation ").strip(),
                           str(cef_sev)]
    assert parse_leef(LeefFormatter(SEED_OPTIONS).format(r))[0][4] == str(event_id)
    assert orjson.loads(JsonLinesFormatter().format(r))["event_type"] == event_type


def test_state_change_in_every_format() -> None:
    out = io.StringIO()
    line = Compliance("syslog", out, options=SEED_OPTIONS).export_state_change(
        mcp_server_id="math", from_state="cold", to_state="ready", timestamp=SEED_TIME)
    assert out.getvalue() == line + "\n" and " 202 [mcp@49152 " in line
    rec = ComplianceRecord(event_type="McpServerStateChanged",
                           time_unix_nano=1_778_414_400_500_000_000, mcp_server_id="math",
                           from_state="cold", to_state="ready")
    s = parse_syslog(SyslogFormatter(SEED_OPTIONS).format(rec))
    assert s["pri"] == 132 and s["msgid"] == "202"
    assert s["sd"]["mcp@49152"] == {"mcp_server": "math", "from_state": "cold",
                                    "to_state": "ready"}
    assert s["msg"] == "mcp_server math state changed from cold to ready"
    assert s["timestamp"] == "2026-05-10T12:00:00.500000Z"
    _, leef = parse_leef(LeefFormatter(SEED_OPTIONS).format(rec))
    assert (leef["oldState"], leef["newState"], leef["cat"]) == ("cold", "ready", "mcp_server")
    head, cef = parse_cef(CefFormatter(SEED_OPTIONS).format(rec))
    assert head[4:7] == ["202", "MCP Server State Changed", "3"]
    assert (cef["cs2"], cef["cs3"], cef["rt"]) == ("cold", "ready", "1778414400500")
    assert orjson.loads(JsonLinesFormatter().format(rec)) == {
        "timestamp": "2026-05-10T12:00:00.500000+00:00", "event_type": "McpServerStateChanged",
        "mcp_server_id": "math", "from_state": "cold", "to_state": "ready"}


def test_caller_and_cost_fields_in_every_format() -> None:
    r = _seed_record(caller_type="human", caller_roles="admin,mcp_servers:read", cost_cents=25,
                     cost_model="token", cost_input_tokens=1200, cost_output_tokens=300,
                     trace_id="0af7651916cd43dd8448eb211c80319c", span_id="b7ad6b7169203331")
    j = orjson.loads(JsonLinesFormatter().format(r))
    assert {k: j[k] for k in ("caller_type", "caller_id", "caller_roles", "cost_cents",
                              "cost_model", "cost_input_tokens", "cost_output_tokens")} == {
        "caller_type": "human", "caller_id": "alice", "caller_roles": "admin,mcp_servers:read",
        "cost_cents": 25, "cost_model": "token", "cost_input_tokens": 1200,
        "cost_output_tokens": 300}
    sd = parse_syslog(SyslogFormatter(SEED_OPTIONS).format(r))["sd"]["mcp@49152"]
    assert (sd["caller_type"], sd["roles"], sd["cost_cents"], sd["trace_id"]) == (
        "human", "admin,mcp_servers:read", "25", "0af7651916cd43dd8448eb211c80319c")
    _, leef = parse_leef(LeefFormatter(SEED_OPTIONS).format(r))
    assert (leef["usrName"], leef["role"], leef["costCents"], leef["costInputTokens"]) == (
        "alice", "admin,mcp_servers:read", "25", "1200")
    _, cef = parse_cef(CefFormatter(SEED_OPTIONS).format(r))
    assert (cef["suser"], cef["spriv"], cef["cn2"], cef["cn2Label"], cef["cs4"],
            cef["flexNumber1"]) == ("alice", "admin,mcp_servers:read", "25", "CostCents",
                                    "token", "300")


def test_leef_custom_delimiter_and_epoch_time() -> None:
    o = FormatOptions(leef_delimiter="^", leef_dev_time_format="epoch_ms")
    r = _seed_record(tool_name="a^b")
    header, attrs = parse_leef(LeefFormatter(o).format(r))
    assert header[5] == "^"
    assert attrs["action"] == "a^b"
    assert attrs["devTime"] == "1778414400000" and "devTimeFormat" not in attrs


def test_syslog_bom_only_for_non_ascii_msg() -> None:
    line = SyslogFormatter(SEED_OPTIONS).format(_seed_record(tool_name="résumé"))
    assert "] \ufeffTool résumé on" in line
    assert parse_syslog(line)["sd"]["mcp@49152"]["tool"] == "résumé"


# ----------------------------------------------------------------------------- properties

HOSTILE = st.sampled_from(["|", "=", "\\", '"', "]", "[", "\n", "\r", "\t", "\x00", "\x1b",
                           "\x7f", " ", "^", "é", "漢", "😀", "\u2028", "\ufeff", "x", "a=b"])
TEXT = st.one_of(
    st.lists(HOSTILE, max_size=12).map("".join),
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("ab|=\\ \n"), min_size=300, max_size=5000),
)
OPT_TEXT = st.one_of(st.none(), TEXT)


@st.composite
def records(draw: st.DrawFn) -> ComplianceRecord:
    state = draw(st.booleans())
    return ComplianceRecord(
        event_type="McpServerStateChanged" if state else draw(st.sampled_from(
            ["ToolInvocationCompleted", "ToolInvocationFailed", "ToolInvocationDenied"])),
        time_unix_nano=draw(st.integers(0, 4_000_000_000 * 10**9)),
        mcp_server_id=draw(OPT_TEXT), tool_name=None if state else draw(OPT_TEXT),
        status=None if state else draw(OPT_TEXT),
        duration_ms=draw(st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False))),
        error_type=draw(OPT_TEXT),
        from_state=draw(OPT_TEXT) if state else None, to_state=draw(OPT_TEXT) if state else None,
        caller_type=draw(OPT_TEXT), caller_id=draw(OPT_TEXT), caller_roles=draw(OPT_TEXT),
        cost_cents=draw(st.one_of(st.none(), st.integers(0, 10**12))),
        cost_model=draw(OPT_TEXT),
        cost_input_tokens=draw(st.one_of(st.none(), st.integers(1, 10**9))),
        cost_output_tokens=draw(st.one_of(st.none(), st.integers(1, 10**9))),
        service_version=draw(OPT_TEXT),
    )


STRING_FIELDS = ("mcp_server_id", "tool_name", "status", "error_type", "from_state",
                 "to_state", "caller_type", "caller_id", "caller_roles", "cost_model")


@settings(max_examples=200, deadline=None)
@given(records())
def test_jsonlines_round_trip(r: ComplianceRecord) -> None:
    line = JsonLinesFormatter().format(r)
    assert "\n" not in line and "\r" not in line and "\u2028" not in line
    d = orjson.loads(line)
    expected = {f for f in STRING_FIELDS if getattr(r, f) is not None}
    assert {k for k in d if k in STRING_FIELDS} == expected
    for f in expected:
        assert d[f] == getattr(r, f)


@settings(max_examples=200, deadline=None)
@given(records())
def test_syslog_round_trip(r: ComplianceRecord) -> None:
    line = SyslogFormatter(SEED_OPTIONS).format(r)
    assert "\n" not in line and "\r" not in line and "\x00" not in line
    sd = parse_syslog(line)["sd"]["mcp@49152"]
    names = {"mcp_server_id": "mcp_server", "tool_name": "tool", "status": "status",
             "error_type": "error", "from_state": "from_state", "to_state": "to_state",
             "caller_type": "caller_type", "caller_id": "caller", "caller_roles": "roles",
             "cost_model": "cost_model"}
    expected = {names[f]: getattr(r, f) for f in STRING_FIELDS if getattr(r, f) is not None}
    assert {k: v for k, v in sd.items() if k in names.values()} == expected


@settings(max_examples=200, deadline=None)
@given(records())
def test_leef_round_trip(r: ComplianceRecord) -> None:
    line = LeefFormatter(SEED_OPTIONS).format(r)
    header, attrs = parse_leef(line)  # raises on a forged/broken field
    assert len(header) == 6
    names = {"mcp_server_id": "mcpServer", "tool_name": "action", "error_type": "reason",
             "from_state": "oldState", "to_state": "newState", "caller_type": "callerType",
             "caller_id": "usrName", "caller_roles": "role", "cost_model": "costModel"}
    # LEEF leaves empty values out (QRadar's key=([^\t]+) needs one character)
    expected = {n: getattr(r, f) for f, n in names.items() if getattr(r, f)}
    if "usrName" in expected:
        expected["usrName"] = clip(expected["usrName"], MAX_FIELD_BYTES, 255)[0]
    assert {k: v for k, v in attrs.items() if k in names.values()} == expected


def _cef_expected(value: str, limit: int) -> str:
    value, _ = clip(value, MAX_FIELD_BYTES, limit)
    return "".join("\ufffd" if (ord(c) < 0x20 and c not in "\t\n\r") or 0x7F <= ord(c) < 0xA0
                   or c in "\u2028\u2029" else c for c in value)


@settings(max_examples=200, deadline=None)
@given(records())
def test_cef_round_trip(r: ComplianceRecord) -> None:
    line = CefFormatter(SEED_OPTIONS).format(r)
    header, ext = parse_cef(line)
    assert header[0] == "CEF:0" and len(header) == 7
    names = {"mcp_server_id": ("cs1", 4000), "tool_name": ("cs5", 4000),
             "status": ("outcome", 63), "error_type": ("reason", 1023),
             "from_state": ("cs2", 4000), "to_state": ("cs3", 4000),
             "caller_type": ("flexString2", 1023), "caller_id": ("suser", 1023),
             "caller_roles": ("spriv", 1023), "cost_model": ("cs4", 4000)}
    expected = {k: _cef_expected(getattr(r, f), lim) for f, (k, lim) in names.items()
                if getattr(r, f) is not None}
    got = {k: v for k, v in ext.items() if k in {n for n, _ in names.values()}}
    # CEF parsers do not keep trailing spaces of the final pair; act is always last
    assert got == expected
    assert list(ext)[-1] == "act" and ext["act"] == r.event_type


def test_strict_parsers_reject_forgery() -> None:
    # the parsers are the oracle of the property tests: make sure they can fail
    with pytest.raises(ParseError):
        parse_leef("LEEF:2.0|V|P|1|101|x09|a=1\tb")
    with pytest.raises(ParseError):
        parse_syslog('<134>1 - h a p 101 [x@1 a="b]"] m')
    with pytest.raises(ParseError):
        parse_cef("CEF:0|V|P|1|101|n|1|a=b=c")
    with pytest.raises(ParseError):
        parse_cef("CEF:0|V|P|1|101|n|1|a=b\\q")
