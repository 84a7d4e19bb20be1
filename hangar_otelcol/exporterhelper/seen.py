"""The records an exporter delivered recently, so that a record seen again is not delivered
twice (docs/durability.md).

A record is seen again when a sender retries a request the gateway had already taken when
it crashed, when a followed log line is read again after a restart, or when a derived
record is emitted again. Ids are the first 8 bytes of ``mcp.ids.record_id``. The window is
bounded by time and by count; what it holds is saved with the exporter's checkpoint (as
segments, one per checkpoint) and loaded at start.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from hangar_otelcol.config.types import Duration, minimum_errors

#: state keys of the saved segments
SEGMENT_PREFIX = "seen/"


@dataclass
class DedupeConfig:
    """``dedupe``: records remembered as delivered, so that one seen again is not
    delivered twice."""

    #: how long a delivered record is remembered
    window: Duration = Duration(600.0)
    #: at most this many records are remembered (about 60 bytes of memory each)
    max_records: int = 500_000

    def validate(self) -> list[str]:
        return minimum_errors("max_records", self.max_records, 1)


def short_id(record_id: bytes) -> int:
    return int.from_bytes(record_id[:8], "little")


class SeenWindow:
    def __init__(self, window: float = 600.0, max_ids: int = 500_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.window = window
        self.max_ids = max_ids
        self._clock = clock
        #: id -> when it was delivered (insertion order = time order)
        self._ids: dict[int, float] = {}
        self._unsaved: list[int] = []
        #: saved segments: (state key, newest time in it)
        self._segments: list[tuple[str, float]] = []
        self._next_segment = 0

    def __contains__(self, rid: int) -> bool:
        return rid in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, rids: Iterable[int]) -> None:
        now = self._clock()
        ids = self._ids
        for rid in rids:
            if rid not in ids:
                ids[rid] = now
                self._unsaved.append(rid)
        self._evict(now)

    def _evict(self, now: float) -> None:
        ids = self._ids
        horizon = now - self.window
        while ids:
            oldest, at = next(iter(ids.items()))
            if at >= horizon and len(ids) <= self.max_ids:
                break
            del ids[oldest]

    def checkpoint(self) -> dict[str, bytes | None]:
        """State changes to save with the checkpoint: a segment of the ids added since the
        last one, and the deletion of segments older than the window."""
        now = self._clock()
        out: dict[str, bytes | None] = {}
        if self._unsaved:
            key = f"{SEGMENT_PREFIX}{self._next_segment:016d}"
            self._next_segment += 1
            out[key] = struct.pack(f"<d{len(self._unsaved)}Q", now, *self._unsaved)
            self._segments.append((key, now))
            self._unsaved = []
        horizon = now - self.window
        while self._segments and self._segments[0][1] < horizon:
            out[self._segments.pop(0)[0]] = None
        return out

    def restore(self, state: Mapping[str, bytes]) -> dict[str, bytes | None]:
        """Load the saved segments; returns the deletions of those that expired."""
        now = self._clock()
        horizon = now - self.window
        expired: dict[str, bytes | None] = {}
        for key in sorted(k for k in state if k.startswith(SEGMENT_PREFIX)):
            blob = state[key]
            if len(blob) < 8 or (len(blob) - 8) % 8:
                expired[key] = None  # not a segment of ours: forget it
                continue
            at = struct.unpack_from("<d", blob)[0]
            self._next_segment = max(self._next_segment, int(key[len(SEGMENT_PREFIX):]) + 1)
            if at < horizon:
                expired[key] = None
                continue
            for rid in struct.unpack_from(f"<{(len(blob) - 8) // 8}Q", blob, 8):
                self._ids.setdefault(rid, at)
            self._segments.append((key, at))
        self._evict(now)
        return expired
