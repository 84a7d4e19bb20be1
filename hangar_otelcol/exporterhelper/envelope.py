"""A Batch as the persistent queue stores it (``hangar_otelcol.v1.QueuedBatch``,
proto/hangar_otelcol/proto/v1/queue.proto): each part's request bytes, item count and
sender, so a restarted gateway sends exactly what was accepted, for the same senders."""

from __future__ import annotations

import time

from hangar_otelcol.pdata import Batch, Part, Principal, Sender
from hangar_otelcol.proto.v1 import queue_pb2
from hangar_otelcol.redact import is_secret_key
from hangar_otelcol.signals import Signal

_SIGNALS = {Signal.TRACES: queue_pb2.SIGNAL_TRACES, Signal.LOGS: queue_pb2.SIGNAL_LOGS,
            Signal.METRICS: queue_pb2.SIGNAL_METRICS}
_FROM_PROTO = {v: k for k, v in _SIGNALS.items()}

#: prefix of a principal's attributes in ``Sender.principal`` (queue.proto)
_ATTRIBUTE = "attr."

#: request metadata never written to disk: credentials (the principal they proved is kept)
SECRET_METADATA = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie",
                             "x-api-key", "api-key", "x-auth-token", "dd-api-key"})


def encode_sender(sender: Sender, out: queue_pb2.Sender) -> None:
    out.transport = sender.transport
    out.peer = sender.peer
    for key, value in sender.metadata.items():
        # a configurable auth header (bearertokenauth.header: x-hangar-token) is a
        # credential too: every secret-like name stays off disk (hangar_otelcol/redact.py)
        if key not in SECRET_METADATA and not is_secret_key(key):
            out.metadata[key] = value
    principal = sender.principal
    if principal is not None:
        out.authenticated = True
        fields = out.principal
        fields["authenticator"] = principal.authenticator
        fields["subject"] = principal.subject
        if principal.type:
            fields["type"] = principal.type
        if principal.roles:
            fields["roles"] = "\n".join(principal.roles)
        for key, value in principal.attributes.items():
            fields[_ATTRIBUTE + key] = value
    out.received_unix_nano = sender.received_unix_nano


def decode_sender(msg: queue_pb2.Sender) -> Sender:
    principal = None
    if msg.authenticated:
        fields = msg.principal
        roles = fields.get("roles", "")
        principal = Principal(
            fields.get("authenticator", ""), fields.get("subject", ""), fields.get("type", ""),
            tuple(roles.split("\n")) if roles else (),
            {k[len(_ATTRIBUTE):]: v for k, v in fields.items() if k.startswith(_ATTRIBUTE)})
    return Sender(transport=msg.transport, peer=msg.peer, metadata=dict(msg.metadata),
                  principal=principal, received_unix_nano=msg.received_unix_nano)


def encode_batch(batch: Batch) -> bytes:
    msg = queue_pb2.QueuedBatch(signal=_SIGNALS[batch.signal],
                                enqueued_unix_nano=time.time_ns())
    senders: dict[int, queue_pb2.Sender] = {}
    for part in batch.parts:
        queued = msg.parts.add(request=part.wire(), item_count=part.item_count)
        cached = senders.get(id(part.sender))
        if cached is None:
            encode_sender(part.sender, queued.sender)
            senders[id(part.sender)] = queued.sender
        else:
            queued.sender.CopyFrom(cached)
    return msg.SerializeToString()


def decode_batch(data: bytes) -> Batch:
    msg = queue_pb2.QueuedBatch.FromString(data)
    signal = _FROM_PROTO[msg.signal]
    parts = [Part.from_wire(signal, p.request, p.item_count, decode_sender(p.sender))
             for p in msg.parts]
    return Batch(signal, parts)
