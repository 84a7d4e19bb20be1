"""The spans tool_audit holds, on a storage when the config names one (``storage:``).

A span is acknowledged to its sender once the connector has it; if the connector only
held it in memory, a crash during the hold would lose the call (hangar 1.6 sends no audit
record of it). So each held span is written to the storage before ``consume`` returns and
removed once its audit record was handed on (or its call proved covered).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from hangar_otelcol.exporterhelper.envelope import decode_sender, encode_sender
from hangar_otelcol.mcp import CallKey
from hangar_otelcol.pdata import Sender
from hangar_otelcol.proto.v1 import queue_pb2
from hangar_otelcol.storage import StorageClient

QUEUE = "held_spans"


@dataclass(slots=True)
class Held:
    due: float  # monotonic time at which the span is decided
    claim: CallKey  # what the ledger pairs on
    sender: Sender
    resource: bytes  # serialized Resource of the span
    record: LogRecord
    #: sequence number in the storage (0: held in memory only)
    seq: int = 0


def encode(item: Held) -> bytes:
    msg = queue_pb2.HeldSpan(
        due_unix_nano=int((time.time() + item.due - time.monotonic()) * 1e9),
        origin=item.claim.origin, trace_id=item.claim.trace_id, tool=item.claim.tool,
        report=item.claim.report, resource=item.resource,
        record=item.record.SerializeToString())
    encode_sender(item.sender, msg.sender)
    return msg.SerializeToString()


def decode(data: bytes, seq: int) -> Held:
    msg = queue_pb2.HeldSpan.FromString(data)
    due = time.monotonic() + (msg.due_unix_nano / 1e9 - time.time())
    return Held(due, CallKey(msg.origin, msg.trace_id, msg.tool, msg.report),
                decode_sender(msg.sender), msg.resource, LogRecord.FromString(msg.record), seq)


class HeldStore:
    def __init__(self, client: StorageClient) -> None:
        self._client = client

    async def add(self, items: list[Held]) -> None:
        """Durable once this returns."""
        seqs = await self._client.append(QUEUE, [encode(i) for i in items], 1)
        for item, seq in zip(items, seqs, strict=True):
            item.seq = seq

    async def done(self, items: list[Held]) -> None:
        seqs = [i.seq for i in items if i.seq]
        if seqs:
            await self._client.remove(QUEUE, seqs)

    async def load(self) -> list[Held]:
        """What a previous run held, in the order it was held."""
        pending = await self._client.pending(QUEUE)
        found = await self._client.read(QUEUE, [seq for seq, *_ in pending])
        return [decode(found[seq], seq) for seq, *_ in pending if seq in found]
