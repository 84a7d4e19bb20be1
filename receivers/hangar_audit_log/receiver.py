"""The hangar_audit_log receiver: lines in, batches of OTLP log records out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from hangar_otelcol.component import BaseComponent, ConsumerError, CreateSettings, Host
from hangar_otelcol.pdata import Batch, Principal, Sender, Signal
from hangar_otelcol.receivers.hangar_audit_log import checkpoint
from hangar_otelcol.receivers.hangar_audit_log.checkpoint import Position
from hangar_otelcol.receivers.hangar_audit_log.config import HangarAuditLogConfig
from hangar_otelcol.receivers.hangar_audit_log.convert import (
    AUDIT_SCOPE,
    LineKind,
    RequestBuilder,
    audit_record,
    classify,
    other_record,
    service_of,
)
from hangar_otelcol.receivers.hangar_audit_log.follower import FileFollower

LINES_METRIC = "otelcol_receiver_hangar_audit_log_lines_total"
#: resource attribute naming where a record was read (stdin | file)
INPUT_KEY = "hangar.audit.input"
_EOF = object()


class HangarAuditLogReceiver(BaseComponent):
    def __init__(self, settings: CreateSettings, config: HangarAuditLogConfig,
                 consumer: Any) -> None:
        super().__init__(settings)
        self.config = config
        self.consumer = consumer
        self.lines = self.telemetry.counter(
            LINES_METRIC, "Lines read by the hangar_audit_log receiver, by outcome "
            "(audit, other, forwarded, not_json, too_long)", ("outcome",))
        self.transport = "stdin" if config.reads_stdin else "file"
        # whoever can write to the pipe or the file speaks as this principal (if named):
        # mcp_caller's principals / trusted_principals then apply (docs/security.md)
        self.sender = Sender(transport=self.transport, principal=Principal(
            str(settings.id), config.principal) if config.principal else None)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._builder = self._new_builder()
        self._first_pending = 0.0  # monotonic time of the first record in the pending batch
        self._pending_pos: Position | None = None  # checkpoint once the pending batch is in
        self._saved_pos: Position | None = None
        self._ckpt_path: Path | None = None
        if not config.reads_stdin and config.checkpoint:
            self._ckpt_path = (Path(config.checkpoint_path) if config.checkpoint_path
                               else checkpoint.default_path(str(settings.id), config.path))
        #: True once the input is exhausted (stdin closed); for tests and status
        self.eof = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        if self.config.reads_stdin:
            self._task = asyncio.create_task(self._run_stdin(), name=f"{self.settings.id}")
        else:
            follower = self._make_follower()  # checkpoint problems surface at start
            self._task = asyncio.create_task(self._run_file(follower),
                                             name=f"{self.settings.id}")

    async def shutdown(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=5.0)
            except TimeoutError:
                # the consumer kept refusing: leave the batch to the next start (checkpoint)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
            except Exception:  # already logged by the task
                pass

    # -- files -----------------------------------------------------------------------------

    def _make_follower(self) -> FileFollower:
        follower = FileFollower(self.config.path, fingerprint_size=self.config.fingerprint_size,
                                max_line_size=self.config.max_line_size, notice=self._notice)
        saved: Position | None = None
        if self._ckpt_path is not None:
            try:
                loaded = checkpoint.load(self._ckpt_path)
            except ValueError as exc:
                self.logger.warning("%s: %s; starting as if there were none", self.settings.id, exc)
                loaded = None
            if loaded is not None:
                followed, saved = loaded
                if os.path.abspath(followed) != os.path.abspath(self.config.path):
                    self.logger.warning("%s: checkpoint %s is for %s, not %s; ignoring it",
                                     self.settings.id, self._ckpt_path, followed,
                                     self.config.path)
                    saved = None
        follower.start(saved, start_at_end=self.config.start_at == "end")
        self._saved_pos = saved
        return follower

    def _notice(self, kind: str, message: str) -> None:
        if kind == "error":
            self.problems.warn("file_error", "%s: %s", self.settings.id, message,
                               detail=message)
        elif kind in ("resumed", "rotated", "missing"):  # the follower says "missing" once
            self.logger.info("%s: %s", self.settings.id, message)
        else:
            self.logger.warning("%s: %s", self.settings.id, message)
        if kind in ("rotated", "truncated"):
            self.telemetry.counter("otelcol_receiver_hangar_audit_log_file_events_total",
                                   "Rotations and truncations seen", ("event",)).inc(kind)

    async def _run_file(self, follower: FileFollower) -> None:
        try:
            while True:
                stopping = self._stopping.is_set()
                room = self.config.max_batch_lines - self._builder.count
                lines = follower.read_lines(max(room, 1))
                for line in lines:
                    self._take(line.data, line.too_long)
                    self._pending_pos = line.end
                await self._maybe_flush(stopping=stopping and not lines)
                if lines:
                    await asyncio.sleep(0)  # let others run between chunks of a long backlog
                elif stopping:
                    return
                else:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), self._idle_wait())
        finally:
            follower.close()

    def _idle_wait(self) -> float:
        wait = float(self.config.poll_interval)
        if self._builder.count:
            due = self._first_pending + float(self.config.batch_timeout) - time.monotonic()
            wait = min(wait, max(due, 0.0))
        return wait

    # -- stdin -----------------------------------------------------------------------------

    async def _run_stdin(self) -> None:
        stream = sys.stdin.buffer if sys.stdin is not None else None
        if stream is None or _is_tty(stream):
            self.logger.info("%s: standard input is not a pipe or file; nothing to read",
                          self.settings.id)
            self.eof.set()
            return
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4 * self.config.max_batch_lines)
        thread = threading.Thread(target=_pump, args=(stream, loop, queue,
                                                      self.config.max_line_size),
                                  name=f"{self.settings.id}-stdin", daemon=True)
        thread.start()
        # a reader thread blocked in read() cannot be interrupted; it is a daemon thread
        while True:
            stopping = self._stopping.is_set()
            timeout = 0.0 if stopping else (self._idle_wait() if self._builder.count else None)
            item = await self._next(queue, timeout)
            if item is _EOF:
                self.logger.info("%s: standard input closed", self.settings.id)
                await self._maybe_flush(stopping=True)
                break
            if item is not None:
                self._take(*item)
            await self._maybe_flush(stopping=stopping and item is None)
            if stopping and item is None:
                break
        self.eof.set()

    async def _next(self, queue: asyncio.Queue[Any], timeout: float | None) -> Any:
        """The next item, or None when ``timeout`` passed or the receiver is stopping."""
        if not queue.empty():
            return queue.get_nowait()
        if timeout == 0.0:
            return None
        getter = asyncio.ensure_future(queue.get())
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({getter, stopper}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if getter.done():
            return getter.result()
        getter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await getter
        return None

    # -- lines -> batches ------------------------------------------------------------------

    def _new_builder(self) -> RequestBuilder:
        # every record says where it was read: a line on stdin can come from any process
        # sharing hangar's stderr (its MCP servers), docs/security.md
        return RequestBuilder(self.config.service_version,
                              {INPUT_KEY: self.transport, **self.config.resource_attributes})

    def _take(self, data: bytes, too_long: bool) -> None:
        if too_long:
            self.lines.inc("too_long")
            self._report_once("too_long", f"a line longer than max_line_size "
                              f"({self.config.max_line_size} bytes) was skipped")
            return
        if not data.strip():
            return
        kind, obj = classify(data)
        self.lines.inc(kind.value)
        if kind is LineKind.NOT_JSON:
            self._report_once("not_json", "a line that is not a JSON object was counted "
                              f"and {'forwarded' if self.config.forward_other_lines else 'skipped'}"
                              f" (first: {data[:80]!r})")
        if kind is LineKind.AUDIT:
            assert obj is not None
            try:
                record = audit_record(obj, add_genai_keys=self.config.add_genai_keys)
            except (ValueError, TypeError) as exc:  # defensive: odd values must not kill us
                self.lines.inc("invalid")
                self._report_once("invalid", f"an audit line could not be converted: {exc}")
                return
            self._add(service_of(obj, self.config.service_name), AUDIT_SCOPE, record)
        elif self.config.forward_other_lines:
            record, scope = other_record(obj, data)
            self._add(service_of(obj, self.config.service_name), scope, record)
            self.lines.inc("forwarded")

    def _report_once(self, key: str, message: str) -> None:
        self.problems.warn(key, "%s: %s", self.settings.id, message)

    def _add(self, service: str, scope: str, record: Any) -> None:
        if self._builder.count == 0:
            self._first_pending = time.monotonic()
        self._builder.add(service, scope, record)

    async def _maybe_flush(self, *, stopping: bool) -> None:
        builder = self._builder
        due = (builder.count >= self.config.max_batch_lines
               or (builder.count and time.monotonic() - self._first_pending
                   >= float(self.config.batch_timeout))
               or (builder.count and stopping))
        if due:
            await self._send(stopping=stopping)
        elif builder.count == 0 and self._pending_pos is not None:
            self._commit()  # only skipped lines: move the checkpoint past them

    async def _send(self, *, stopping: bool) -> None:
        builder = self._builder
        n = builder.count
        batch = Batch.of(Signal.LOGS, builder.request, self.sender)
        while True:
            try:
                await self.consumer.consume(batch)
            except ConsumerError as exc:
                if exc.permanent:
                    self.telemetry.refused(Signal.LOGS, n, self.transport)
                    self.logger.warning("%s: %d records refused permanently, dropped: %s",
                                     self.settings.id, n, exc)
                    break
                if stopping:
                    # keep the checkpoint where it is: the next start offers these again
                    self.telemetry.refused(Signal.LOGS, n, self.transport)
                    self.logger.warning("%s: %d records refused while stopping (%s); they will "
                                     "be read again on the next start", self.settings.id, n,
                                     exc)
                    self._builder = self._new_builder()
                    self._pending_pos = None
                    return
                self._report_once("retry", f"records refused ({exc}); retrying every "
                                  f"{float(self.config.retry_interval)}s")
                wait = exc.retry_after or float(self.config.retry_interval)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)
                stopping = self._stopping.is_set()
                continue
            else:
                self.telemetry.accepted(Signal.LOGS, n, self.transport)
                break
        self._builder = self._new_builder()
        self._commit()

    def _commit(self) -> None:
        pos = self._pending_pos
        self._pending_pos = None
        if pos is None or self._ckpt_path is None or pos == self._saved_pos:
            return
        try:
            checkpoint.save(self._ckpt_path, self.config.path, pos)
            self._saved_pos = pos
        except OSError as exc:
            self._report_once("ckpt", f"cannot write checkpoint {self._ckpt_path}: {exc}")


def _is_tty(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return True


def _pump(stream: BinaryIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any],
          max_line: int) -> None:
    """Reader thread: blocking line reads, handed to the loop with backpressure."""
    def put(item: Any) -> bool:
        try:
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            return True
        except (RuntimeError, asyncio.CancelledError):
            return False  # the loop is gone: the process is stopping
        except Exception:
            return False

    try:
        while True:
            line = stream.readline(max_line + 1)
            if not line:
                break
            if len(line) > max_line and not line.endswith(b"\n"):
                # drop the rest of the over-long line
                while True:
                    more = stream.readline(max_line + 1)
                    if not more or more.endswith(b"\n"):
                        break
                if not put((line[:200], True)):
                    return
                continue
            if not put((line.rstrip(b"\r\n"), False)):
                return
    except (OSError, ValueError):
        pass
    put(_EOF)
