"""The tool_audit connector: consumes trace batches, feeds audit log records to logs pipelines.

Hangar 1.6.x sends spans only (its audit records are dropped before they leave the process),
so without this connector its calls would reach neither the compliance outputs nor the cost
counters, which read audit records. Hangar 2.x sends both: a span whose call a real audit
record reported is skipped (``AUDIT_LEDGER.claim``), and because the two signals are flushed
independently by hangar's SDK, each span waits ``hold`` seconds for its record first.

The connector never changes the trace batch (``mutates_data = False``); it only reads the
invocation index that the pipeline already built.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from hangar_otelcol import invocation
from hangar_otelcol.component import BaseComponent, ConsumerError, CreateSettings, Host
from hangar_otelcol.connectors.tool_audit.config import ToolAuditConfig
from hangar_otelcol.connectors.tool_audit.derive import AUDIT_SCOPE, audit_record
from hangar_otelcol.invocation import TOOL_EVENT, ToolInvocation
from hangar_otelcol.pdata import Batch, Sender, Signal

RECORDS_METRIC = "otelcol_connector_tool_audit_spans_total"


@dataclass(slots=True)
class _Held:
    due: float  # monotonic time at which the span is decided
    claim: ToolInvocation  # trace id, span id and tool: what the ledger pairs on
    sender: Sender
    resource: bytes  # serialized Resource of the span
    record: LogRecord


class ToolAuditConnector(BaseComponent):
    mutates_data = False

    def __init__(self, settings: CreateSettings, config: ToolAuditConfig,
                 consumer: Any) -> None:
        self.settings = settings
        self.config = config
        self.consumer = consumer
        self.log = settings.logger
        self.spans = settings.telemetry.counter(
            RECORDS_METRIC, "Tool-invocation spans seen by the tool_audit connector, by "
            "outcome (derived: an audit record was made; covered: a real audit record "
            "reported the call; dropped: the logs pipeline refused the derived record)",
            ("outcome",))
        self._prefixes = tuple(config.copy_attribute_prefixes)
        self._held: collections.deque[_Held] = collections.deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._ledger = invocation.AUDIT_LEDGER
        self._warned: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, host: Host) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.settings.id}")

    async def shutdown(self) -> None:
        """Decide every held span now (the logs pipeline is still running) and emit."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10.0)
            except asyncio.TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._warn("shutdown", f"{len(self._held)} derived audit records were not "
                           "delivered before the shutdown deadline")

    # -- input -----------------------------------------------------------------------------

    async def consume(self, batch: Batch) -> None:
        if batch.signal is not Signal.TRACES:
            return
        keys = self.config.invocations
        now = time.monotonic()
        due = now + float(self.config.hold)
        observed = time.time_ns()
        source_key = keys.audit_source_key
        dedupe = self.config.dedupe_with_audit_logs
        added = covered = 0
        for part in batch.parts:
            resources: dict[int, bytes] = {}
            for inv in invocation.index(part, keys):
                if not inv.is_span or not inv.counted or inv.wrapper or inv.event != TOOL_EVENT:
                    continue
                if dedupe and self._ledger.claim_if_covered(inv):
                    # its audit record is here already (hangar 2.x): nothing to derive
                    covered += 1
                    continue
                rid = id(inv.resource)
                resource = resources.get(rid)
                if resource is None:
                    resource = inv.resource.SerializeToString() if inv.resource else b""
                    resources[rid] = resource
                claim = ToolInvocation()
                claim.trace_id, claim.span_id, claim.tool = inv.trace_id, inv.span_id, inv.tool
                claim.is_span = True
                record = audit_record(inv, source_key=source_key, copy_prefixes=self._prefixes,
                                      observed_unix_nano=observed)
                self._held.append(_Held(due, claim, part.sender, resource, record))
                added += 1
        if covered:
            self.spans.inc("covered", amount=covered)
        if added:
            if self._task is None:  # not started (e.g. driven directly): decide now
                await self._emit(self._take_due(force=True))
            else:  # the output task may be asleep with no deadline: let it recompute
                self._wake.set()

    # -- output ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            ready = self._take_due(force=self._stopping)
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

    def _take_due(self, *, force: bool) -> list[_Held]:
        """Held spans whose time is up (all of them when stopping or over max_held)."""
        now = time.monotonic()
        held = self._held
        out: list[_Held] = []
        while held and (force or held[0].due <= now or len(held) > self.config.max_held):
            out.append(held.popleft())
        if not self.config.dedupe_with_audit_logs:
            return out
        kept = []
        for item in out:
            if self._ledger.claim(item.claim):
                self.spans.inc("covered")
            else:
                kept.append(item)
        return kept

    async def _emit(self, items: list[_Held]) -> None:
        if not items:
            return
        # one request per sender (processors may read the sender), one resource per resource
        # (Sender holds a dict, so it is not hashable: group by identity; a batch from one
        # receiver request shares one Sender object)
        by_sender: dict[int, tuple[Sender, dict[bytes, list[LogRecord]]]] = {}
        for item in items:
            _, resources = by_sender.setdefault(id(item.sender), (item.sender, {}))
            resources.setdefault(item.resource, []).append(item.record)
        for sender, resources in by_sender.values():
            request = ExportLogsServiceRequest()
            n = 0
            for resource, records in resources.items():
                rl = request.resource_logs.add()
                if resource:
                    rl.resource.MergeFromString(resource)
                sl = rl.scope_logs.add()
                sl.scope.name = AUDIT_SCOPE
                sl.log_records.extend(records)
                n += len(records)
            await self._deliver(Batch.of(Signal.LOGS, request, sender), n)

    async def _deliver(self, batch: Batch, n: int) -> None:
        while True:
            try:
                await self.consumer.consume(batch)
            except ConsumerError as exc:
                if exc.permanent or self._stopping:
                    self.spans.inc("dropped", amount=n)
                    self._warn(str(exc), f"{n} derived audit records refused, dropped: {exc}")
                    return
                self._warn("retry", f"derived audit records refused ({exc}); retrying")
                await asyncio.sleep(exc.retry_after or float(self.config.retry_interval))
                continue
            except Exception as exc:  # a broken consumer must not stop the connector
                self.spans.inc("dropped", amount=n)
                self._warn(type(exc).__name__, f"{n} derived audit records lost: {exc!r}")
                return
            self.spans.inc("derived", amount=n)
            return

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.log.warning("%s: %s", self.settings.id, message)
