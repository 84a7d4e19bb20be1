"""What the compliance exporter queues: the records of one batch, each with its short
record id. They are formatted when written, with the config of the process that writes
them (a restart with another format or output still writes every record)."""

from __future__ import annotations

import dataclasses
import operator

import orjson

from hangar_otelcol.proto.v1 import queue_pb2
from hangar_otelcol.signals import Signal

from .record import ComplianceRecord

_FIELDS = operator.attrgetter(*(f.name for f in dataclasses.fields(ComplianceRecord)))


class ComplianceWork:
    """Records for the output; ``ids[i]`` is record i's short id (0: none)."""

    __slots__ = ("ids", "item_count", "pending", "progress", "records", "signal")

    def __init__(self, records: list[ComplianceRecord], ids: list[int],
                 signal: Signal = Signal.LOGS) -> None:
        self.records = records
        self.ids = ids
        self.signal = signal
        self.item_count = len(records)
        #: (short id, framed message) still to write, fixed at the first attempt (repeats
        #: and unsendable records left out)
        self.pending: list[tuple[int, bytes]] | None = None
        #: bytes of ``data()`` an output already wrote (files resume after them)
        self.progress = 0

    def data(self) -> bytes:
        return b"".join(line for _, line in self.pending or ())

    def messages(self) -> list[bytes]:
        return [line for _, line in self.pending or ()]

    def encode(self) -> bytes:
        return queue_pb2.QueuedRecords(
            records=orjson.dumps([_FIELDS(r) for r in self.records]),
            record_ids=self.ids).SerializeToString()

    @classmethod
    def decode(cls, data: bytes) -> ComplianceWork:
        msg = queue_pb2.QueuedRecords.FromString(data)
        return cls([ComplianceRecord(*fields) for fields in orjson.loads(msg.records or b"[]")],
                   list(msg.record_ids))
