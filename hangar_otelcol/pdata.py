"""The unit of data that moves between components.

A ``Batch`` is a list of ``Part``s of one signal. Each part is one OTLP
``Export*ServiceRequest`` exactly as a receiver decoded it, plus who sent it.

Why parts rather than one merged message:
- batching is list concatenation: no protobuf copy, and each part keeps the
  identity of its sender (the OpenTelemetry Collector loses request metadata in
  its batch processor);
- a part that nobody mutated still has its original wire bytes, so a pure
  pass-through serializes nothing, and serialized requests concatenate into one
  valid request (protobuf merges repeated fields on concatenation);
- a derived read-only view of the request (the tool-invocation index,
  ``hangar_otelcol.mcp``) is built once per part, kept in ``Part.cache`` and reused by
  every later consumer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.signals import REQUEST_TYPES, Request, Signal

__all__ = ["REQUEST_TYPES", "UNKNOWN_SENDER", "Batch", "Part", "Principal", "Request", "Sender",
           "Signal", "count_items", "decode"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request proved to be (``hangar_otelcol.auth``): bound at the receiver, kept
    through batching and the persistent queue, read by processors (mcp_caller)."""

    #: the id of the authenticator extension that proved it (``bearertokenauth``, ``mtls``)
    authenticator: str
    #: the principal's name: a token's principal, a JWT's subject, a user name, a
    #: certificate's subject or SAN
    subject: str
    #: human | agent | service, when the credential says (a JWT claim, the token's config)
    type: str = ""
    roles: tuple[str, ...] = ()
    #: other facts the credential carried (selected JWT claims, certificate fields)
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``<authenticator>:<subject>``: unique across authenticators (pairing, logs)."""
        return f"{self.authenticator}:{self.subject}"


@dataclass(frozen=True, slots=True)
class Sender:
    """Who delivered a request: bound at the receiver, kept through batching.

    ``metadata`` holds request headers / gRPC metadata with lower-case keys.
    ``principal`` is set when an authenticator proved who sent it (else None).
    """

    transport: str = ""  # "grpc", "http", "file", "stdin", "internal"
    peer: str = ""  # remote IP address, without port
    metadata: Mapping[str, str] = field(default_factory=dict)
    principal: Principal | None = None
    #: when the receiver got the request (0: unknown)
    received_unix_nano: int = 0


UNKNOWN_SENDER = Sender()


class Part:
    """One decoded Export*ServiceRequest, its original bytes and its sender.

    A part made by ``from_wire`` holds bytes only and decodes them the first time
    ``message`` is read (queues of exporters that only send bytes keep parts this way).
    """

    __slots__ = ("__weakref__", "_message", "_type", "_wire", "cache", "item_count", "sender")

    def __init__(
        self,
        message: Request,
        wire: bytes | None = None,
        sender: Sender = UNKNOWN_SENDER,
        item_count: int | None = None,
    ) -> None:
        self._message: Request | None = message
        self._type: type[Any] = type(message)
        self._wire = wire
        self.sender = sender
        self.item_count = count_items(message) if item_count is None else item_count
        #: a read-only view derived from the message by one reader, owned by that reader
        #: (the tool-invocation index: ``hangar_otelcol.mcp.reader``); copies start empty
        self.cache: Any = None

    @classmethod
    def from_wire(cls, signal: Signal, wire: bytes, item_count: int,
                  sender: Sender = UNKNOWN_SENDER) -> Part:
        """A part of serialized bytes, decoded lazily (the bytes must be valid)."""
        part = cls.__new__(cls)
        part._message = None
        part._type = REQUEST_TYPES[signal]
        part._wire = wire
        part.sender = sender
        part.item_count = item_count
        part.cache = None
        return part

    @property
    def message(self) -> Request:
        message = self._message
        if message is None:
            assert self._wire is not None
            message = self._message = self._type.FromString(self._wire)
        return message

    def mutable_message(self) -> Request:
        """The message, for a caller that is about to change it (drops cached bytes)."""
        self._wire = None
        return self.message

    def wire(self) -> bytes:
        """Serialized form: the original bytes when untouched, else serialized once."""
        if self._wire is None:
            self._wire = self.message.SerializeToString()
        return self._wire

    @property
    def mutated(self) -> bool:
        return self._wire is None

    def copy(self) -> Part:
        """An independent copy, for a consumer that mutates shared data."""
        wire = self.wire()
        message = type(self.message).FromString(wire)
        return Part(message, wire, self.sender, self.item_count)


class Batch:
    """Data of one signal on its way through a pipeline."""

    __slots__ = ("parts", "signal")

    def __init__(self, signal: Signal, parts: list[Part]) -> None:
        self.signal = signal
        self.parts = parts

    @classmethod
    def of(cls, signal: Signal, message: Request, sender: Sender = UNKNOWN_SENDER) -> Batch:
        return cls(signal, [Part(message, None, sender)])

    @property
    def item_count(self) -> int:
        return sum(p.item_count for p in self.parts)

    def wire(self) -> bytes:
        """One serialized Export*ServiceRequest holding every part."""
        if len(self.parts) == 1:
            return self.parts[0].wire()
        return b"".join(p.wire() for p in self.parts)

    def copy(self) -> Batch:
        return Batch(self.signal, [p.copy() for p in self.parts])

    def compact(self) -> Batch:
        """The same data as one part of serialized bytes only.

        For queues of exporters that send bytes: a queued request then costs its wire
        size, not its decoded messages and invocation views (fewer live objects is also
        less work for every full garbage collection).
        """
        if len(self.parts) == 1 and self.parts[0]._message is None:
            return self
        senders = {id(p.sender): p.sender for p in self.parts}
        sender = next(iter(senders.values())) if len(senders) == 1 else UNKNOWN_SENDER
        return Batch(self.signal, [Part.from_wire(self.signal, self.wire(), self.item_count,
                                                  sender)])

    def merged_message(self) -> Request:
        """Every part as one message (parses; for consumers that need a single object)."""
        if len(self.parts) == 1:
            return self.parts[0].message
        return REQUEST_TYPES[self.signal].FromString(self.wire())

    def __iter__(self) -> Iterator[Part]:
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)


def count_items(message: Request) -> int:
    """Spans, log records or metric data points in a request."""
    if isinstance(message, ExportTraceServiceRequest):
        return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    if isinstance(message, ExportLogsServiceRequest):
        return sum(len(sl.log_records) for rl in message.resource_logs for sl in rl.scope_logs)
    return sum(_metric_points(m) for rm in message.resource_metrics for sm in rm.scope_metrics
               for m in sm.metrics)


def _metric_points(metric: Any) -> int:
    kind = metric.WhichOneof("data")
    if kind is None:
        return 0
    return len(getattr(metric, kind).data_points)


def decode(signal: Signal, wire: bytes, sender: Sender = UNKNOWN_SENDER) -> Part:
    """Parse protobuf bytes into a Part (raises google.protobuf.message.DecodeError)."""
    message = REQUEST_TYPES[signal].FromString(wire)
    return Part(message, wire, sender)
