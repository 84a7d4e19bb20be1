"""The ``compliance`` exporter: invocation views -> formatted lines -> one output.

``consume`` formats synchronously (microseconds per record) and hands the lines
to the output's bounded buffer; it never waits for a disk or a SIEM, so the
OTLP pipeline is never stalled by compliance export, and a failing OTLP
exporter never stalls this one (each exporter has its own consume).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hangar_otelcol.component import BaseComponent, CreateSettings, Host
from hangar_otelcol.ledger import Ledger, ledger_from
from hangar_otelcol.ledger.counting import counted
from hangar_otelcol.mcp import ToolInvocation, index
from hangar_otelcol.pdata import Batch

from .config import ComplianceConfig
from .formats import formatter_for
from .formats.common import utf8
from .formats.syslog import SyslogFormatter, SyslogHeader, envelope
from .options_from_config import format_options
from .outputs.base import BufferedOutput
from .outputs.file import FileOutput
from .outputs.stream import StreamOutput
from .outputs.syslog_net import (
    StreamSyslogOutput,
    UdpOutput,
    frame_lf,
    frame_octet_counting,
)
from .record import ComplianceRecord, from_invocation

_UDP_MAX_DATAGRAM = 65507


class ComplianceExporter(BaseComponent):
    mutates_data = False

    def __init__(self, settings: CreateSettings, config: ComplianceConfig) -> None:
        super().__init__(settings)
        self.config = config
        self.enabled = config.enabled
        self.output: BufferedOutput | None = None
        self._ledger: Ledger | None = None
        if not self.enabled:
            return
        fmt = config.canonical_format
        assert fmt is not None  # validated
        self.format_name = fmt
        options = format_options(config)
        self.formatter: Any = formatter_for(fmt, options)
        kind, where, port = config.output_kind()
        self.output_kind = kind
        labels = (fmt, kind)
        tel = settings.telemetry
        counters = {
            what: tel.counter(f"otelcol_exporter_compliance_records_{what}_total",
                              desc, ("format", "output"))
            for what, desc in (
                ("written", "Compliance records written to the output"),
                ("failed", "Compliance records in failed write attempts (kept and retried) "
                           "or that could not be formatted"),
                ("dropped", "Compliance records lost (buffer full, unsendable, shutdown)"),
                ("resent", "Compliance records sent again after a connection break"),
            )
        }
        self._counters = counters

        def on_event(what: str, n: int) -> None:
            counters[what].inc(*labels, amount=n)

        net = config.network
        common: dict[str, Any] = {"buffer_size": config.buffer_size, "logger": self.logger,
                                  "problems": self.problems, "on_event": on_event}
        self._max_size = 0
        self._frame: Callable[[bytes], bytes]
        self._envelope: SyslogHeader | None = None
        if kind in ("stderr", "stdout"):
            self.output = StreamOutput(kind, **common)
            self._frame = frame_lf
        elif kind == "file":
            self.output = FileOutput(where, rotate_size=int(config.file.rotate_size),
                                     keep=config.file.keep, mode=int(config.file.mode, 8),
                                     **common)
            self._frame = frame_lf
        else:
            common.update(initial_backoff=float(net.initial_backoff),
                          max_backoff=float(net.max_backoff))
            if fmt != "syslog":  # LEEF/CEF/JSON travel as MSG of an RFC 5424 message
                self._envelope = SyslogHeader(options)
            if kind == "udp":
                self.output = UdpOutput(where, port, **common)
                self._frame = _identity
                self._max_size = int(net.max_message_size) or 2048
            else:
                tls = None
                if kind == "tls":
                    tls = net.tls.ssl_context()
                self.output = StreamSyslogOutput(
                    where, port, tls=tls, server_name=net.tls.server_name_override or None,
                    connect_timeout=float(net.connect_timeout),
                    write_timeout=float(net.write_timeout),
                    resend_window=float(net.resend_window), **common)
                lf = kind == "tcp" and net.framing == "lf"
                self._frame = frame_lf if lf else frame_octet_counting
                self._max_size = int(net.max_message_size) or 8192
        # files and streams take plain LF-terminated lines of any length: let the formatter
        # write the terminator itself (JSON-lines: orjson appends it, no copy)
        self._plain_lines = self._envelope is None and not self._max_size and \
            self._frame is frame_lf
        self._format_line: Callable[[ComplianceRecord], bytes] = getattr(
            self.formatter, "format_line", None) or self._format_then_frame
        tel.gauge("otelcol_exporter_compliance_records_buffered",
                  "Compliance records waiting in the output buffer",
                  lambda: float(self.output.buffered if self.output else 0),
                  {"format": fmt, "output": kind})

    # ------------------------------------------------------------------ rendering

    def render(self, record: ComplianceRecord) -> bytes | None:
        """One framed message for the output, or None if it cannot be sent."""
        if self._plain_lines:
            return self._format_line(record)
        if self._envelope is not None:
            text = envelope(self._envelope, record, self.formatter.format(record),
                            bom=self.formatter.envelope_bom and self.config.bom != "never")
        else:
            text = self.formatter.format(record)
        data = utf8(text)
        if self._max_size and len(data) > self._max_size:
            shortened = self._shorten(record, data)
            if shortened is None:
                return None
            data = shortened
        return self._frame(data)

    def _format_then_frame(self, record: ComplianceRecord) -> bytes:
        return frame_lf(utf8(self.formatter.format(record)))

    def _shorten(self, record: ComplianceRecord, data: bytes) -> bytes | None:
        # RFC 5424 §6.1: shorten by dropping the free-text MSG; never cut fields
        if isinstance(self.formatter, SyslogFormatter):
            data = utf8(self.formatter.format(record, with_msg=False))
        if len(data) > self._max_size:
            if self.output_kind == "udp" and len(data) > _UDP_MAX_DATAGRAM:
                self.problems.warn("oversize_udp", "a compliance record of %d bytes does not "
                                   "fit in one UDP datagram; dropped", len(data))
                self._counters["dropped"].inc(self.format_name, self.output_kind)
                return None
            self.problems.warn("oversize", "compliance records longer than max_message_size "
                               "(%d) are sent whole; the receiver may truncate them (raise its "
                               "maximum message size)", self._max_size)
        return data

    # ------------------------------------------------------------------ pipeline

    async def consume(self, batch: Batch) -> None:
        if not self.enabled or self.output is None:
            return
        keys = self.config.invocations
        messages: list[bytes] = []
        for part in batch.parts:
            invs = index(part, keys)
            if not invs:
                continue
            # a span whose call a real audit record reported (hangar 2.x sends both) is not
            # exported again; claims are idempotent per span, so asking here does not
            # disturb the tool_audit connector
            for inv in await counted(invs, self._ledger):
                try:
                    msg = self.render(_record_of(inv))
                except Exception as exc:  # a bad record must never fail the batch
                    self._counters["failed"].inc(self.format_name, self.output_kind)
                    self.problems.warn("render", "cannot format a compliance record: %r", exc,
                                       detail=type(exc).__name__)
                    continue
                if msg is not None:
                    messages.append(msg)
        if messages:
            self.output.submit(messages)  # one write per batch, never blocks
        self.settings.telemetry.sent(batch.signal, batch.item_count)

    async def start(self, host: Host) -> None:
        if self.output is None:
            return
        if self.config.count_spans:
            self._ledger = ledger_from(host, self.config.ledger)
        await self.output.start()

    async def reload(self) -> None:
        """Called by the service on SIGHUP: reopen the file (logrotate's postrotate)."""
        if isinstance(self.output, FileOutput) and self.config.file.reopen_on_sighup:
            self.output.reopen()

    async def shutdown(self) -> None:
        if self.output is None:
            return
        await self.output.shutdown()

    async def flush(self, timeout: float = 10.0) -> bool:
        return True if self.output is None else await self.output.flush(timeout)


def _record_of(inv: ToolInvocation) -> ComplianceRecord:
    """The invocation's compliance record, built once for all compliance exporters.

    Exporters run after every processor and do not mutate, so the record cannot change
    between two of them (a mutating consumer would get its own copy of the data).
    """
    views = inv.views
    if views is None:
        views = inv.views = {}
    record = views.get("compliance")
    if record is None:
        record = views["compliance"] = from_invocation(inv)
    return record


def _identity(data: bytes) -> bytes:
    return data

