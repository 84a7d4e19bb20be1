"""The tool_audit connector: the one place where a call becomes one audit record.

It is an exporter of the traces pipeline and of the logs pipeline that takes audit records
in, and a receiver of the logs pipeline that counts them (docs/identity-and-cost.md):

- logs in: every real audit record is noted in the ledger (``ledger:``, the count-once
  state, ``hangar_otelcol.ledger``), and the batch is handed on unchanged, in the caller's
  task, so refusals downstream reach the sender;
- traces in: hangar 1.6.x sends spans only (its audit records never leave the process), so
  without this connector its calls would reach neither the compliance outputs nor the cost
  counters. Hangar 2.x sends both: a span whose call a real audit record reported is
  skipped (``Ledger.claim``), and because hangar's SDK flushes the two signals
  independently, each span waits ``hold`` seconds for its record first.

The connector never changes a trace batch; it only reads the invocation index.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from hangar_otelcol.component import BaseComponent, Consumer, ConsumerError, CreateSettings, Host
from hangar_otelcol.connectors.tool_audit.config import ToolAuditConfig
from hangar_otelcol.connectors.tool_audit.derive import AUDIT_SCOPE, audit_record
from hangar_otelcol.connectors.tool_audit.held import Held, HeldStore
from hangar_otelcol.ledger import Ledger, ledger_from
from hangar_otelcol.ledger.counting import counted_spans, reports
from hangar_otelcol.mcp import call_key, index
from hangar_otelcol.pdata import Batch, Sender, Signal
from hangar_otelcol.storage import Storage

RECORDS_METRIC = "otelcol_connector_tool_audit_spans_total"


class _AuditIntake:
    """The connector as the exporter of a logs pipeline: notes, then hands on."""

    def __init__(self, connector: ToolAuditConnector) -> None:
        self._connector = connector
        # the records go on to the logs pipeline unchanged: it mutates if its head does
        self.mutates_data = connector.consumer.mutates_data

    async def consume(self, batch: Batch) -> None:
        await self._connector.consume_logs(batch)


class ToolAuditConnector(BaseComponent):
    mutates_data = False

    def __init__(self, settings: CreateSettings, config: ToolAuditConfig,
                 consumer: Consumer) -> None:
        super().__init__(settings)
        self.config = config
        self.consumer = consumer
        self.spans = settings.telemetry.counter(
            RECORDS_METRIC, "Tool-invocation spans seen by the tool_audit connector, by "
            "outcome (derived: an audit record was made; covered: a real audit record "
            "reported the call; dropped: the logs pipeline refused the derived record)",
            ("outcome",))
        self._prefixes = tuple(config.copy_attribute_prefixes)
        self._held: collections.deque[Held] = collections.deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._ledger: Ledger | None = None
        self._store: HeldStore | None = None
        self._intake = _AuditIntake(self)

    def consumer_for(self, signal: Signal) -> Consumer:
        """What the pipeline of ``signal`` exports to (the builder asks, pipeline.py)."""
        return self._intake if signal is Signal.LOGS else self

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self._ledger = ledger_from(host, self.config.ledger)
        if self.config.storage:
            storage = host.extension(self.config.storage)
            if not isinstance(storage, Storage):
                raise ValueError(f"storage: extension {self.config.storage!r} is no storage")
            self._store = HeldStore(storage.client(str(self.settings.id)))
            loaded = await self._store.load()
            if loaded:
                self._held.extend(sorted(loaded, key=lambda h: h.due))
                self.logger.info("%s: %d spans held before the last stop wait for their "
                                 "audit records again", self.settings.id, len(loaded))
        self._task = asyncio.create_task(self._run(), name=f"{self.settings.id}")

    async def shutdown(self) -> None:
        """Decide every held span now (the logs pipeline is still running) and emit; with a
        storage, what is held stays there and is decided after the next start, when its
        hold is over (an audit record may still come)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10.0)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self.problems.warn("shutdown", "%s: %d derived audit records were not "
                                   "delivered before the shutdown deadline", self.settings.id,
                                   len(self._held))

    # -- input -----------------------------------------------------------------------------

    async def consume_logs(self, batch: Batch) -> None:
        """Real audit records: noted in the ledger, then handed on (errors reach the sender)."""
        if self.config.dedupe_with_audit_logs:
            noted = [key for part in batch.parts
                     for key in reports(index(part, self.config.invocations))]
            if noted:
                await self._ledger_of().note(noted)
        await self.consumer.consume(batch)

    async def consume(self, batch: Batch) -> None:
        if batch.signal is Signal.LOGS:
            await self.consume_logs(batch)
            return
        if batch.signal is not Signal.TRACES:
            return
        keys = self.config.invocations
        now = time.monotonic()
        due = now + float(self.config.hold)
        observed = time.time_ns()
        source_key = keys.audit_source_key
        dedupe = self.config.dedupe_with_audit_logs
        covered = 0
        new: list[Held] = []
        for part in batch.parts:
            spans = counted_spans(index(part, keys))
            if not spans:
                continue
            claims = [call_key(inv) for inv in spans]
            # already covered (its audit record is here: hangar 2.x): nothing to derive
            done = await self._ledger_of().claim_covered(claims) if dedupe else \
                [False] * len(spans)
            resources: dict[int, bytes] = {}
            for inv, claim, is_covered in zip(spans, claims, done, strict=True):
                if is_covered:
                    covered += 1
                    continue
                rid = id(inv.resource)
                resource = resources.get(rid)
                if resource is None:
                    resource = inv.resource.SerializeToString() if inv.resource else b""
                    resources[rid] = resource
                try:
                    record = audit_record(inv, source_key=source_key,
                                          copy_prefixes=self._prefixes,
                                          observed_unix_nano=observed)
                except Exception as exc:  # one bad span never fails the others
                    self.telemetry.bad_records("derive_failed")
                    self.spans.inc("bad_record")
                    self.problems.warn("bad_record", "%s: cannot derive an audit record "
                                       "from a span: %r", self.settings.id, exc,
                                       detail=type(exc).__name__)
                    continue
                new.append(Held(due, claim, part.sender, resource, record))
        if covered:
            self.spans.inc("covered", amount=covered)
        if new:
            if self._store is not None:  # durable before the sender is answered
                await self._store.add(new)
            self._held.extend(new)
            if self._task is None:  # not started (e.g. driven directly): decide now
                await self._emit(await self._take_due(force=True))
            else:  # the output task may be asleep with no deadline: let it recompute
                self._wake.set()

    # -- output ----------------------------------------------------------------------------

    def _ledger_of(self) -> Ledger:
        if self._ledger is None:
            raise ConsumerError(f"connector {self.settings.id} is not started")
        return self._ledger

    async def _run(self) -> None:
        while True:
            if self._stopping and self._store is not None:
                return  # held spans stay in the storage for the next start
            ready = await self._take_due(force=self._stopping)
            if ready:
                await self._emit(ready)
                continue
            if self._stopping:
                return
            self._wake.clear()
            timeout = (self._held[0].due - time.monotonic()) if self._held else None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(),
                                       None if timeout is None else max(timeout, 0.0))

    async def _take_due(self, *, force: bool) -> list[Held]:
        """Held spans whose time is up (all of them when stopping or over max_held)."""
        now = time.monotonic()
        held = self._held
        out: list[Held] = []
        while held and (force or held[0].due <= now or len(held) > self.config.max_held):
            out.append(held.popleft())
        if not out or not self.config.dedupe_with_audit_logs:
            return out
        try:
            answers = await self._ledger_of().claim([item.claim for item in out])
        except ConsumerError as exc:
            # the ledger cannot answer now (a shared one unreachable): deciding without it
            # could count a call twice, so the spans wait and are asked about again
            held.extendleft(reversed(out))
            self.problems.warn("ledger_unavailable", "%s: %d held spans wait: %s",
                               self.settings.id, len(out), exc, detail=type(exc).__name__)
            await asyncio.sleep(exc.retry_after or float(self.config.retry_interval))
            return []
        kept = [item for item, is_covered in zip(out, answers, strict=True) if not is_covered]
        if len(kept) < len(out):
            self.spans.inc("covered", amount=len(out) - len(kept))
            if self._store is not None:
                await self._store.done([i for i, c in zip(out, answers, strict=True) if c])
        return kept

    async def _emit(self, items: list[Held]) -> None:
        if not items:
            return
        # one request per sender (processors may read the sender), one resource per resource
        # (Sender holds a dict, so it is not hashable: group by identity; a batch from one
        # receiver request shares one Sender object)
        by_sender: dict[int, tuple[Sender, dict[bytes, list[Held]]]] = {}
        for item in items:
            _, resources = by_sender.setdefault(id(item.sender), (item.sender, {}))
            resources.setdefault(item.resource, []).append(item)
        for sender, resources in by_sender.values():
            request = ExportLogsServiceRequest()
            sent: list[Held] = []
            for resource, held in resources.items():
                rl = request.resource_logs.add()
                if resource:
                    rl.resource.MergeFromString(resource)
                sl = rl.scope_logs.add()
                sl.scope.name = AUDIT_SCOPE
                sl.log_records.extend(h.record for h in held)
                sent += held
            if await self._deliver(Batch.of(Signal.LOGS, request, sender), len(sent)) \
                    and self._store is not None:
                await self._store.done(sent)

    async def _deliver(self, batch: Batch, n: int) -> bool:
        """Hand derived records on, retrying while refused retryably; True when they are
        done with (delivered, or refused for good), False when they stay held."""
        while True:
            try:
                await self.consumer.consume(batch)
            except ConsumerError as exc:
                if self._stopping and not exc.permanent and self._store is not None:
                    return False  # kept in the storage for the next start
                if exc.permanent or self._stopping:
                    self.spans.inc("dropped", amount=n)
                    self.problems.warn("refused", "%s: %d derived audit records refused, "
                                       "dropped: %s", self.settings.id, n, exc, detail=str(exc))
                    return True
                self.problems.warn("retry", "%s: derived audit records refused (%s); retrying",
                                   self.settings.id, exc)
                await asyncio.sleep(exc.retry_after or float(self.config.retry_interval))
                continue
            except Exception as exc:  # a broken consumer must not stop the connector
                self.spans.inc("dropped", amount=n)
                self.problems.error("bug", "%s: %d derived audit records lost: %r",
                                    self.settings.id, n, exc, detail=type(exc).__name__)
                return True
            self.spans.inc("derived", amount=n)
            return True
