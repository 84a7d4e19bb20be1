"""Fuzz targets: each takes one input's bytes and raises only on a bug.

A target returns normally when the input is handled, including when it is refused with the
clean error a user would see (a protobuf DecodeError answered INVALID_ARGUMENT, an
OtlpJsonError answered 400, a ConfigError / PricingFileError naming the path). Any other
exception, or a broken invariant (an output line that is not exactly one line of UTF-8), is
a finding. The same targets run under hypothesis in the test suite (tests/fuzz/test_fuzz.py)
and under atheris, coverage-guided, for long runs (scripts/fuzz.sh).

Inputs are the corpus files in tests/testdata/fuzz/<target>/ (seeds made by
tests/fuzz/make_corpus.py from the real hangar captures and the shipped configs) and what
the fuzzers derive from them. The OTLP targets read the signal from the first byte.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from google.protobuf.message import DecodeError

from hangar_otelcol import otlpjson
from hangar_otelcol.component import Kind
from hangar_otelcol.config.model import validate
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.exporters.compliance.formats import formatter_for
from hangar_otelcol.exporters.compliance.formats.common import utf8
from hangar_otelcol.exporters.compliance.formats.options import FormatOptions
from hangar_otelcol.exporters.compliance.record import from_invocation
from hangar_otelcol.mcp import TOOL_EVENT, index
from hangar_otelcol.pdata import Batch, Part, Signal, decode
from hangar_otelcol.processors.caller.config import CallerConfig
from hangar_otelcol.processors.caller.factory import FACTORY as CALLER
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.factory import FACTORY as COST
from hangar_otelcol.processors.cost.source import PricingFileError, load_pricing_file
from hangar_otelcol.registry import default_registry
from hangar_otelcol.testing import CollectingConsumer, StandaloneHost, make_settings

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "testdata" / "fuzz"
SIGNALS = (Signal.TRACES, Signal.LOGS, Signal.METRICS)
FORMATS = ("jsonlines", "leef", "syslog", "cef")
#: what an input may grow to inside a target (atheris's -max_len is set to the same)
MAX_INPUT = 256 * 1024


class _Pipeline:
    """The processors that read and write a record's numbers and identity (mcp_caller,
    then mcp_cost with the shipped example pricing), then the four formatters: what the
    shipped config does to a request between the receiver and the compliance outputs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.out = CollectingConsumer()
        cost = COST.create(make_settings(Kind.PROCESSOR, "mcp_cost"), build(CostConfig, {
            "pricing_file": str(REPO / "config" / "pricing.example.yaml")}), None, self.out)
        self.caller = CALLER.create(make_settings(Kind.PROCESSOR, "mcp_caller"),
                                    build(CallerConfig, {}), None, cost)
        self.cost = cost
        host = StandaloneHost()
        self.loop.run_until_complete(cost.start(host))
        self.loop.run_until_complete(self.caller.start(host))
        self.formatters = {f: formatter_for(f, FormatOptions()) for f in FORMATS}

    def run(self, signal: Signal, part: Part) -> None:
        self.loop.run_until_complete(self.caller.consume(Batch(signal, [part])))
        self.out.batches.clear()  # a long run keeps nothing of an input it is done with
        for inv in index(part):
            if inv.event != TOOL_EVENT:
                continue
            record = from_invocation(inv)
            for name, formatter in self.formatters.items():
                line = getattr(formatter, "format_line", None)
                data = line(record) if line else utf8(formatter.format(record))  # type: ignore[attr-defined]
                text = data.decode("utf-8")  # a formatter writes UTF-8 or it is a bug
                lines = text.rstrip("\n").splitlines()
                assert len(lines) == 1, f"{name}: one record became {len(lines)} lines"


_pipeline: _Pipeline | None = None


def pipeline() -> _Pipeline:
    global _pipeline  # one per fuzzing process: building it per input would dwarf the work
    if _pipeline is None:
        _pipeline = _Pipeline()
    return _pipeline


def otlp_protobuf(data: bytes) -> None:
    """An OTLP/protobuf request body: decoded, indexed, priced, formatted."""
    if not data:
        return
    signal = SIGNALS[data[0] % 3]
    try:
        part = decode(signal, data[1:])
    except DecodeError:
        return
    pipeline().run(signal, part)


def otlp_json(data: bytes) -> None:
    """An OTLP/JSON request body through the gateway's own JSON decoder, whose output must
    be protobuf that upb parses."""
    if not data:
        return
    signal = SIGNALS[data[0] % 3]
    try:
        wire = otlpjson.decode_wire(signal, data[1:])
    except otlpjson.OtlpJsonError:
        return
    pipeline().run(signal, decode(signal, wire))


def config_yaml(data: bytes) -> None:
    """A --config file: loaded and validated against every registered component."""
    from hangar_otelcol.config.loader import load

    with tempfile.NamedTemporaryFile("wb", suffix=".yaml") as fh:
        fh.write(data)
        fh.flush()
        try:
            validate(load([fh.name]), _registry())
        except ConfigError:
            return


def pricing_yaml(data: bytes) -> None:
    """A pricing file (mcp_cost pricing_file)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".yaml") as fh:
        fh.write(data)
        fh.flush()
        try:
            load_pricing_file(fh.name)
        except PricingFileError:
            return


_registry_cache: list[object] = []


def _registry():  # type: ignore[no-untyped-def]
    if not _registry_cache:
        _registry_cache.append(default_registry())
    return _registry_cache[0]


TARGETS: dict[str, Callable[[bytes], None]] = {
    "otlp_protobuf": otlp_protobuf,
    "otlp_json": otlp_json,
    "config_yaml": config_yaml,
    "pricing_yaml": pricing_yaml,
}


def corpus(target: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((CORPUS / target).iterdir()) if p.is_file()]
