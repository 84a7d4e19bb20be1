"""Splitting one request that is bigger than ``send_batch_max_size``.

Only a part larger than the maximum is ever split (smaller parts move whole,
as list items). The pieces keep the resource / scope structure: each piece
gets a copy of the resource and scope of the records it holds, and a metric
with more data points than fit is split by data points.
"""

from __future__ import annotations

from typing import Any

from hangar_otelcol.pdata import Part
from hangar_otelcol.signals import REQUEST_TYPES, Request, Signal

# (resource list, scope list, record list) field names per signal
_LEVELS = {
    Signal.TRACES: ("resource_spans", "scope_spans", "spans"),
    Signal.LOGS: ("resource_logs", "scope_logs", "log_records"),
    Signal.METRICS: ("resource_metrics", "scope_metrics", "metrics"),
}


def _points(metric: Any) -> Any:
    kind = metric.WhichOneof("data")
    return getattr(metric, kind).data_points if kind else ()


class _Builder:
    """Appends records to the current piece, opening resource/scope copies lazily."""

    def __init__(self, signal: Signal, max_items: int) -> None:
        self.signal = signal
        self.max = max_items
        self.res_field, self.scope_field, self.rec_field = _LEVELS[signal]
        self.pieces: list[tuple[Request, int]] = []
        self._new_piece()

    def _new_piece(self) -> None:
        self.request = REQUEST_TYPES[self.signal]()
        self.count = 0
        self.res_out: Any = None
        self.scope_out: Any = None
        self.res_src: Any = None
        self.scope_src: Any = None

    def room(self) -> int:
        return self.max - self.count

    def flush(self) -> None:
        if self.count:
            self.pieces.append((self.request, self.count))
        self._new_piece()

    def target(self, res: Any, scope: Any) -> Any:
        """The record list of the current piece for records of (res, scope)."""
        if self.res_src is not res:
            self.res_out = getattr(self.request, self.res_field).add()
            if res.HasField("resource"):
                self.res_out.resource.CopyFrom(res.resource)
            self.res_out.schema_url = res.schema_url
            self.res_src, self.scope_src = res, None
        if self.scope_src is not scope:
            self.scope_out = getattr(self.res_out, self.scope_field).add()
            if scope.HasField("scope"):
                self.scope_out.scope.CopyFrom(scope.scope)
            self.scope_out.schema_url = scope.schema_url
            self.scope_src = scope
        return getattr(self.scope_out, self.rec_field)


def split_message(signal: Signal, message: Request, max_items: int) -> list[tuple[Request, int]]:
    """Pieces of at most ``max_items`` items each, in order, with their item counts."""
    b = _Builder(signal, max_items)
    for res in getattr(message, b.res_field):
        for scope in getattr(res, b.scope_field):
            for record in getattr(scope, b.rec_field):
                if signal is Signal.METRICS:
                    _add_metric(b, res, scope, record)
                    continue
                if b.room() == 0:
                    b.flush()
                b.target(res, scope).append(record)
                b.count += 1
    b.flush()
    return b.pieces


def _add_metric(b: _Builder, res: Any, scope: Any, metric: Any) -> None:
    points = _points(metric)
    n = len(points)
    if n == 0:
        # a metric without points counts as no item; it travels with the current piece
        b.target(res, scope).append(metric)
        return
    if n <= b.room():
        b.target(res, scope).append(metric)
        b.count += n
        return
    kind = metric.WhichOneof("data")
    start = 0
    while start < n:
        if b.room() == 0:
            b.flush()
        take = min(b.room(), n - start)
        piece = b.target(res, scope).add()
        piece.name, piece.description, piece.unit = metric.name, metric.description, metric.unit
        piece.metadata.extend(metric.metadata)
        src, dst = getattr(metric, kind), getattr(piece, kind)
        dst.SetInParent()
        for fd, value in src.ListFields():
            if fd.name != "data_points":
                setattr(dst, fd.name, value)  # aggregation_temporality, is_monotonic
        dst.data_points.extend(points[start:start + take])
        b.count += take
        start += take


def split_part(signal: Signal, part: Part, max_items: int) -> list[Part]:
    """``part`` as parts of at most ``max_items`` items (the sender is kept)."""
    if part.item_count <= max_items:
        return [part]
    return [Part(message, None, part.sender, count)
            for message, count in split_message(signal, part.message, max_items)]
