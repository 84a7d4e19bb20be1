"""The ``compliance`` exporter: invocation views -> formatted lines -> one output.

Built on the exporter helper like every exporter: ``consume`` formats the batch's records
(microseconds each) and queues the lines; one sender writes them in order, retrying with
backoff while the output cannot write; with ``sending_queue.storage`` the queue is on disk,
so accepted records survive a crash and are written after the restart.

Each record carries a stable id (``record_id``, hangar_otelcol/mcp/ids.py). The exporter
remembers the ids it wrote (``dedupe``): a record seen again (a sender's retry of a request
taken before a crash, a log line read again) is not written twice. After a restart it reads
the ids at the end of its file, so records written just before the crash count as written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.exporterhelper import ExporterHelper, ExportError
from hangar_otelcol.exporterhelper.seen import SeenWindow, short_id
from hangar_otelcol.ledger import Ledger, ledger_from
from hangar_otelcol.ledger.counting import counted
from hangar_otelcol.mcp import ToolInvocation, index
from hangar_otelcol.multiprocess import worker_index
from hangar_otelcol.pdata import Batch, Signal

from .chain import (
    Chain,
    checkpoint_maker,
    load_key,
    load_signing_key,
    parse_link,
    stream_id,
)
from .config import ComplianceConfig
from .formats import formatter_for
from .formats.common import utf8
from .formats.syslog import BOM, SyslogFormatter, SyslogHeader, envelope
from .options_from_config import format_options
from .outputs.base import Writer
from .outputs.file import FileOutput
from .outputs.stream import StreamWriter
from .outputs.syslog_net import (
    StreamSyslogOutput,
    UdpOutput,
    frame_lf,
    frame_octet_counting,
)
from .record import ComplianceRecord, from_invocation
from .work import ComplianceWork

_UDP_MAX_DATAGRAM = 65507
#: seconds between checkpoints of what was written (with a persistent queue)
CHECKPOINT_INTERVAL = 1.0
#: the checkpoint key of the chain state: "<stream> <seq> <last chain value hex>"
CHAIN_STATE = "compliance.chain"


class ComplianceExporter(ExporterHelper):
    checkpoint_interval = CHECKPOINT_INTERVAL

    def __init__(self, settings: CreateSettings, config: ComplianceConfig) -> None:
        super().__init__(settings, config)
        self.config = config
        self.enabled = config.enabled
        self.output: Writer | None = None
        self._ledger: Ledger | None = None
        self._seen = SeenWindow(float(config.dedupe.window), config.dedupe.max_records)
        # set before the early return: restore_state/checkpoint_state run when disabled too
        self.chain: Chain | None = None
        if not self.enabled:
            return
        fmt = config.canonical_format
        assert fmt is not None  # validated
        self.format_name = fmt
        options = format_options(config)
        formatter: Any = formatter_for(fmt, options)
        self.formatter: Any = formatter
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
                ("dropped", "Compliance records lost (unsendable, or a memory queue at the "
                            "shutdown deadline)"),
                ("resent", "Compliance records sent again after a connection break"),
                ("duplicates", "Records not written because one with the same record id "
                               "was written already (a retry or a replay after a restart)"),
            )
        }
        self._counters = counters
        # every series at 0 from the start, so that an alert's increase() sees the first
        # failed or dropped record (deploy/prometheus/rules/hangar-otelcol.rules.yaml)
        for counter in counters.values():
            counter.inc(*labels, amount=0)
        truncated = tel.counter("otelcol_exporter_compliance_records_truncated_total",
                                "Compliance records with a field cut to fit max_field_size, "
                                "max_line_size or the format's own lengths",
                                ("format", "output"))
        formatter.limits.on_truncate = lambda: truncated.inc(*labels)

        def on_event(what: str, n: int) -> None:
            counters[what].inc(*labels, amount=n)

        net = config.network
        common: dict[str, Any] = {"logger": self.logger, "problems": self.problems,
                                  "on_event": on_event}
        self._max_size = 0
        self._frame: Callable[[bytes], bytes]
        self._envelope: SyslogHeader | None = None
        if kind in ("stderr", "stdout"):
            self.output = StreamWriter(kind, **common)
            self._frame = frame_lf
        elif kind == "file":
            durable = bool(config.sending_queue.storage)
            self.output = FileOutput(where, rotate_size=int(config.file.rotate_size),
                                     keep=config.file.keep, mode=int(config.file.mode, 8),
                                     fsync=config.file.fsync,
                                     repair="truncate" if durable else "newline", **common)
            self._frame = frame_lf
        else:
            if fmt != "syslog":  # LEEF/CEF/JSON travel as MSG of an RFC 5424 message
                self._envelope = SyslogHeader(options)
            if kind == "udp":
                self.output = UdpOutput(where, port, **common)
                self._frame = _identity
                self._max_size = int(net.max_message_size) or 2048
            else:
                tls = net.tls.ssl_context() if kind == "tls" else None
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
        if config.chain.enabled:
            cc = config.chain
            stream = cc.stream
            if not stream:
                stream = stream_id("", worker_index(), str(settings.id))
                if kind != "file" and not config.sending_queue.storage:
                    # nothing keeps this chain's state across a restart (no persistent
                    # queue, no file tail to continue from): each start is a new stream,
                    # named by its start time, not the old one restarting at sequence 1
                    stream = f"{stream}-{time.time_ns() // 1_000_000}"
            self.chain = Chain(fmt, stream,
                               load_key(cc.key_file, cc.key_env),
                               leef_delimiter=options.leef_delimiter, sd_id=options.sd_id)
            if cc.signing_key_file:
                self.chain.signer = load_signing_key(cc.signing_key_file)
            self._checkpoint_line = checkpoint_maker(fmt, options)
            self._chain_interval = float(cc.checkpoint_interval)
            self._last_checkpoint = time.monotonic()
            self._envelope_options = options
        tel.gauge("otelcol_exporter_compliance_records_buffered",
                  "Compliance records accepted and not written yet",
                  lambda: float(self.queued_items), {"format": fmt, "output": kind})

    # ------------------------------------------------------------------ rendering

    def render(self, record: ComplianceRecord) -> bytes | None:
        """One framed message for the output, or None if it cannot be sent."""
        chain = self.chain
        if self._plain_lines:
            line = self._format_line(record)
            # the chain covers the line without its newline (chain.py)
            return line if chain is None else chain.seal(line[:-1]) + b"\n"
        head = b""
        if self._envelope is not None:
            payload = self.formatter.format(record)
            bom = self.formatter.envelope_bom and self.config.bom != "never"
            if chain is not None:  # the chain covers the payload, not the envelope
                text = envelope(self._envelope, record, "", bom=False)
                head = utf8(text + BOM if bom and not payload.isascii() else text)
                data = head + utf8(payload)
            else:
                data = utf8(envelope(self._envelope, record, payload, bom=bom))
        else:
            data = utf8(self.formatter.format(record))
        if self._max_size and len(data) > self._max_size:
            shortened = self._shorten(record, data)
            if shortened is None:  # not sent: no sequence number taken, so no gap
                return None
            data = shortened
        if chain is not None:  # after shortening: the chain covers what is sent
            data = head + chain.seal(data[len(head):]) if head else chain.seal(data)
        return self._frame(data)

    def render_checkpoint(self, final: bool) -> bytes:
        """A checkpoint record of the chain, framed (chain.py, "checkpoints")."""
        assert self.chain is not None
        self._last_checkpoint = time.monotonic()
        now = time.time_ns()
        data = self.chain.seal(self._checkpoint_line(now, final), sign=True)
        if self._envelope is not None:
            o = self._envelope_options
            head = checkpoint_maker("syslog", o)(now, final)
            data = head[:head.index(b" [")] + b" - " + data  # the record's envelope, no SD
        return data + b"\n" if self._plain_lines else self._frame(data)

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

    def _render_pending(self, work: ComplianceWork) -> list[tuple[int, bytes]]:
        """The messages of ``work`` still to write: repeats of records written already, and
        records that cannot be formatted or sent, are left out (and counted)."""
        seen = self._seen
        out: list[tuple[int, bytes]] = []
        repeats = 0
        for record, rid in zip(work.records, work.ids, strict=True):
            if rid and rid in seen:
                repeats += 1
                continue
            try:
                msg = self.render(record)
            except Exception as exc:  # a bad record must never fail the others
                self._counters["failed"].inc(self.format_name, self.output_kind)
                self.telemetry.bad_records("format_failed")
                self.problems.warn("render", "cannot format a compliance record: %r", exc,
                                   detail=type(exc).__name__)
                continue
            if msg is not None:
                out.append((rid, msg))
        if out and self.chain is not None and self._chain_interval and \
                time.monotonic() - self._last_checkpoint >= self._chain_interval:
            out.append((0, self.render_checkpoint(final=False)))
        if repeats:
            self._counters["duplicates"].inc(self.format_name, self.output_kind,
                                             amount=repeats)
        return out

    # ------------------------------------------------------------------ pipeline

    async def to_work(self, batch: Batch) -> ComplianceWork | None:
        if not self.enabled or self.output is None:
            return None
        keys = self.config.invocations
        records: list[ComplianceRecord] = []
        for part in batch.parts:
            invs = index(part, keys)
            if not invs:
                continue
            # a span whose call a real audit record reported (hangar 2.x sends both) is not
            # exported again; claims are idempotent per span, so asking here does not
            # disturb the tool_audit connector
            for inv in await counted(invs, self._ledger):
                try:
                    records.append(_record_of(inv))
                except Exception as exc:  # a bad record must never fail the others
                    self._bad_record("unreadable", exc)
        return _work(records, batch.signal)

    def _bad_record(self, reason: str, exc: BaseException) -> None:
        self.telemetry.bad_records(reason)
        if self.enabled:
            self._counters["dropped"].inc(self.format_name, self.output_kind)
        self.problems.warn("bad_record", "%s: a compliance record left out (%s): %r",
                           self.settings.id, reason, exc, detail=type(exc).__name__)

    async def export_records(self, records: list[ComplianceRecord]) -> None:
        """Queue records made outside a pipeline (the API, tests) like consumed ones."""
        work = _work(records, Signal.LOGS)
        if work is not None:
            await self.enqueue(work)

    def encode_work(self, work: ComplianceWork) -> bytes:
        try:
            return work.encode()
        except (TypeError, ValueError) as first:  # a value orjson cannot write: find it
            keep = []
            for i, record in enumerate(work.records):
                try:
                    ComplianceWork([record], [0]).encode()
                except (TypeError, ValueError) as exc:
                    self._bad_record("unencodable", exc)
                    continue
                keep.append(i)
            if len(keep) == len(work.records):
                raise first
            work.records = [work.records[i] for i in keep]
            work.ids = [work.ids[i] for i in keep]
            work.item_count = len(keep)
            return work.encode()

    def decode_work(self, data: bytes) -> ComplianceWork:
        return ComplianceWork.decode(data)

    async def send(self, work: ComplianceWork) -> None:
        assert self.output is not None
        if work.pending is None:  # the first attempt: what is still to write, formatted
            work.pending = self._render_pending(work)
        if work.pending:
            try:
                await self.output.write(work)
            except OSError as exc:
                self._counters["failed"].inc(self.format_name, self.output_kind,
                                             amount=len(work.pending))
                await self.output.reset()
                raise ExportError(f"{self.output.describe()}: {exc}", retryable=True) from None
            self._counters["written"].inc(self.format_name, self.output_kind,
                                          amount=len(work.pending))
            self._seen.add(rid for rid, _ in work.pending if rid)
            if self.chain is not None:  # one sender: what was sealed so far is written
                self.chain.committed = (self.chain.seq, self.chain.last)

    def given_up(self, work: ComplianceWork) -> None:
        self._counters["dropped"].inc(
            self.format_name, self.output_kind,
            amount=len(work.pending) if work.pending is not None else work.item_count)

    # ------------------------------------------------------------------ state

    async def restore_state(self, state: dict[str, bytes]) -> None:
        expired = self._seen.restore(state)
        if isinstance(self.output, FileOutput):
            pattern: re.Pattern[bytes] = self.formatter.RECORD_ID
            found = self.output.recent_ids(pattern)
            self._seen.add(short_id(bytes.fromhex(rid.decode())) for rid in found)
        self._expired_state = expired
        saved = state.get(CHAIN_STATE)
        if self.chain is not None and saved:
            stream, seq, last = saved.decode().split()
            if stream == self.chain.stream:
                self.chain.restore(int(seq), bytes.fromhex(last))

    def _restore_chain_from_file(self) -> None:
        """The file's own last record of this stream is the truth for a file output (the
        checkpoint may be up to a second older; chain.py, docs/durability.md)."""
        assert self.chain is not None and isinstance(self.output, FileOutput)
        stream = self.chain.stream
        for line in self.output.recent_lines():
            link = parse_link(line)
            if link is not None and link.stream == stream:
                if link.seq >= self.chain.seq:
                    self.chain.restore(link.seq, link.mac)
                return

    def checkpoint_state(self) -> dict[str, bytes | None]:
        state = self._seen.checkpoint()
        chain = self.chain
        if chain is not None and chain.committed != getattr(self, "_chain_saved", None):
            seq, last = self._chain_saved = chain.committed  # saved only when it moved
            state[CHAIN_STATE] = f"{chain.stream} {seq} {last.hex()}".encode()
        expired = getattr(self, "_expired_state", None)
        if expired:
            state.update(expired)
            self._expired_state = {}
        return state

    # ------------------------------------------------------------------ lifecycle

    async def open(self, host: Host) -> None:
        if self.output is None:
            return
        if self.config.count_spans:
            self._ledger = ledger_from(host, self.config.ledger)
        await self.output.open()
        if self.chain is not None and isinstance(self.output, FileOutput):
            self._restore_chain_from_file()

    async def close(self) -> None:
        if self.output is not None:
            if self.chain is not None and self.chain.seq:  # the queue is drained by now
                work = ComplianceWork([], [])
                work.pending = [(0, self.render_checkpoint(final=True))]
                try:
                    await self.output.write(work)
                except OSError as exc:
                    self.problems.warn("checkpoint", "%s: cannot write the final chain "
                                       "checkpoint: %s", self.settings.id, exc)
            await self.output.close()

    async def reload(self) -> None:
        """Called by the service on SIGHUP: reopen the file (logrotate's postrotate)."""
        if self.output is not None and self.config.file.reopen_on_sighup:
            self.output.reopen()

    async def flush(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until everything accepted so far was written."""
        return await self.idle(timeout)


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


def _work(records: list[ComplianceRecord], signal: Signal) -> ComplianceWork | None:
    if not records:
        return None
    ids = [short_id(bytes.fromhex(r.record_id)) if r.record_id else 0 for r in records]
    return ComplianceWork(records, ids, signal)


def _identity(data: bytes) -> bytes:
    return data

