"""Tool-call and cost series as plain dict accumulators, turned into families at scrape time.

A dict increment per invocation costs ~0.24 µs against ~6 µs for ``Counter.labels().inc()``
(bench/README.md). Names, labels and buckets are hangar's (the seed's release notes,
docs/identity-and-cost.md).

Bounds (docs/identity-and-cost.md, "Cardinality"): every label value is at most
``max_label_value_length`` characters (``clip``); every family keeps at most
``max_series`` label sets with their own series, chosen by recency (``Recency``), plus one
``__other__`` series that the evicted ones are folded into; a series not updated for
``metric_expiration`` is removed. The invariant: at any time, for every family, the sum
over its series (``__other__`` included) equals the sum of every increment since the start
(or the last restore) minus the values of the series that expired.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

import orjson
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from hangar_otelcol.mcp import TOOL_EVENT, ToolInvocation
from hangar_otelcol.multiprocess import SeriesFiles

#: hangar's mcp_hangar_tool_call_duration_seconds buckets (+Inf implied)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OTHER = "__other__"
#: what ends a label value cut to ``max_label_value_length`` characters
TRUNCATED = "\u2026"

Key = tuple[str, ...]
V = TypeVar("V")


class Clock:
    """The time stamped on the series updated now (``time.monotonic()``, set once per
    batch by the exporter: a clock read per call would cost more than the count)."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0


class Recency:
    """Which label sets of one family have a series of their own, by recency.

    A segmented LRU: a new label set enters ``probation``; updated again while there, it
    moves to ``protected`` (at most 4/5 of ``max_series``; the least recently updated
    protected one goes back to probation). When ``max_series`` label sets have a series, a
    new one takes the place of the least recently updated one in probation, which is
    folded into ``__other__`` (``fold``). So a steady series (updated again before
    ``max_series / 5`` new label sets arrive) keeps its own series whatever the number of
    one-shot names after it: those only ever replace each other in probation.

    ``pinned`` label sets (``known_tools``, ``__other__``) are never evicted or expired
    and do not count towards ``max_series``.
    """

    __slots__ = ("clock", "max_series", "pinned", "probation", "protected", "protected_cap")

    def __init__(self, max_series: int, clock: Clock) -> None:
        self.max_series = max_series
        self.clock = clock
        self.protected_cap = max_series - max(1, max_series // 5)
        #: label set -> the clock when it was last updated, least recently updated first
        self.probation: OrderedDict[Key, float] = OrderedDict()
        self.protected: OrderedDict[Key, float] = OrderedDict()
        self.pinned: set[Key] = set()

    def __len__(self) -> int:
        return len(self.probation) + len(self.protected)

    def touch(self, key: Key) -> None:
        """``key`` (which has a series) was updated."""
        now = self.clock.now
        protected = self.protected
        if key in protected:
            protected[key] = now
            protected.move_to_end(key)
            return
        probation = self.probation
        if key in probation:
            del probation[key]
            protected[key] = now
            if len(protected) > self.protected_cap:
                demoted, stamp = protected.popitem(last=False)
                probation[demoted] = stamp

    def admit(self, key: Key) -> Key | None:
        """Give the new ``key`` a series; returns the label set it replaces (to fold), if
        any. With ``max_series`` at 1 every new one replaces the last."""
        victim: Key | None = None
        if len(self.probation) + len(self.protected) >= self.max_series:
            victim = (self.probation if self.probation else self.protected).popitem(
                last=False)[0]
        self.probation[key] = self.clock.now
        return victim

    def expired(self, cutoff: float) -> list[Key]:
        """Forget the label sets last updated before ``cutoff``; returns them."""
        out = []
        protected = self.protected
        for key, stamp in protected.items():  # in update order: stop at the first fresh
            if stamp >= cutoff:
                break
            out.append(key)
        for key in out:
            del protected[key]
        # probation also holds demoted series with older stamps: all of it
        old = [key for key, stamp in self.probation.items() if stamp < cutoff]
        for key in old:
            del self.probation[key]
        out += old
        return out


class _Series(Generic[V]):
    """What a counter family and the histogram share: their name, help and labels, label
    values -> V, and the ``Recency`` that bounds and expires the label sets."""

    __slots__ = ("description", "labelnames", "name", "recency", "stats", "values")

    def __init__(self, name: str, help_text: str, labels: tuple[str, ...], max_series: int,
                 clock: Clock | None = None, stats: Stats | None = None) -> None:
        self.name = name
        self.description = help_text
        self.labelnames = labels
        self.values: dict[Key, V] = {}
        self.recency = Recency(max_series, clock or Clock())
        self.stats = stats or Stats()

    @property
    def max_series(self) -> int:
        return self.recency.max_series

    @property
    def other(self) -> Key:
        """The label values of the series that evicted ones are folded into."""
        return (OTHER,) * len(self.labelnames)

    def expire(self, cutoff: float) -> int:
        keys = self.recency.expired(cutoff)
        for key in keys:
            del self.values[key]
        return len(keys)


class Family(_Series[float]):
    """A counter family (label values -> value) with its ``Recency``."""

    __slots__ = ()

    def inc(self, key: Key, amount: float = 1.0) -> None:
        values = self.values
        if key in values:
            values[key] += amount
            self.recency.touch(key)
            return
        victim = self.recency.admit(key)
        if victim is not None:
            other = self.other
            values[other] = values.get(other, 0.0) + values.pop(victim)
            self.recency.pinned.add(other)
            self.stats.evicted += 1
        values[key] = amount

    def pin(self, key: Key) -> None:
        """A series at 0 that is never evicted or expired (``known_tools``)."""
        self.recency.pinned.add(key)
        self.values.setdefault(key, 0.0)

    def get(self, key: Key) -> float:
        return self.values.get(key, 0.0)


class Histogram(_Series[list[float]]):
    """The duration histogram: label values -> [count per bucket (non-cumulative, +Inf
    last)..., sum], with its ``Recency``."""

    __slots__ = ()

    def row(self, key: Key) -> list[float]:
        """The row of ``key``, made (``Recency.admit``) if it has none."""
        row = self.values.get(key)
        if row is not None:
            self.recency.touch(key)
            return row
        victim = self.recency.admit(key)
        if victim is not None:
            other = (OTHER,) * len(key)
            folded = self.values.pop(victim)
            into = self.values.get(other)
            if into is None:
                self.values[other] = folded
            else:
                for i, n in enumerate(folded):
                    into[i] += n
            self.recency.pinned.add(other)
            self.stats.evicted += 1
        row = self.values[key] = [0.0] * (len(BUCKETS) + 2)
        return row

    def observe(self, key: Key, value: float) -> None:
        row = self.row(key)
        row[bisect.bisect_left(BUCKETS, value)] += 1
        row[-1] += value

    def pin(self, key: Key) -> None:
        self.recency.pinned.add(key)
        if key not in self.values:
            self.values[key] = [0.0] * (len(BUCKETS) + 2)


class Stats:
    """Counts for the exporter's self-metrics."""

    __slots__ = ("evicted", "expired")

    def __init__(self) -> None:
        self.evicted = 0
        self.expired = 0


def _counter_family(name: str, help_text: str, labels: tuple[str, ...],
                    values: dict[Key, float]) -> CounterMetricFamily:
    fam = CounterMetricFamily(name, help_text, labels=labels)
    for key, value in values.items():
        fam.add_metric(key, value)
    return fam


def _histogram_family(name: str, help_text: str, labels: tuple[str, ...],
                      rows: dict[Key, list[float]]) -> HistogramMetricFamily:
    fam = HistogramMetricFamily(name, help_text, labels=labels)
    bounds = [_bound(b) for b in (*BUCKETS, float("inf"))]
    for key, row in rows.items():
        cumulative, acc = [], 0.0
        for bound, n in zip(bounds, row[:-1], strict=True):
            acc += n
            cumulative.append((bound, acc))
        fam.add_metric(key, cumulative, sum_value=row[-1])
    return fam


def _bound(b: float) -> str:
    return "+Inf" if b == float("inf") else repr(b)


class Frozen:
    """A copy of every series at one moment: rendered (``collect``) or written to the
    multiprocess files (``write_to``) in another thread while counting goes on."""

    def __init__(self, counters: list[tuple[str, str, tuple[str, ...], dict[Key, float]]],
                 histogram: tuple[str, str, tuple[str, ...], dict[Key, list[float]]]) -> None:
        self.counters = counters
        self.histogram = histogram

    def collect(self) -> Iterator[Any]:
        first, *rest = self.counters
        yield _counter_family(*first)
        yield _histogram_family(*self.histogram)
        for counter in rest:
            yield _counter_family(*counter)

    def write_to(self, files: SeriesFiles) -> None:
        for name, help_text, labels, values in self.counters:
            files.write_counter(name, help_text, labels, values)
        name, help_text, labels, rows = self.histogram
        files.write_histogram(name, help_text, labels, BUCKETS, rows)


#: what counting one call needs: server, tool, status, duration (ms), error type, cost
#: (hundredths of a cent), cost model, caller type, caller id
Fact = tuple[str, str, str, float | None, str | None, int | None, str, str, str]


def fact_of(inv: ToolInvocation) -> Fact:
    return (inv.server or "", inv.tool or "", inv.status or "success", inv.duration_ms,
            inv.error_type, inv.cost_cents, inv.cost_model or "", inv.caller_type or "",
            inv.caller_id or "")


#: the label values of a Fact: (index, label name)
LABEL_FIELDS = ((0, "mcp_server"), (1, "tool"), (2, "status"), (4, "error_type"),
                (6, "cost_model"), (7, "caller_type"), (8, "caller_id"))


def clip(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, the last one ``TRUNCATED``."""
    return value if len(value) <= limit else value[:limit - 1] + TRUNCATED


def too_long(fact: Fact, limit: int) -> bool:
    """Whether a label value of ``fact`` is longer than ``limit`` (the per-call check)."""
    server, tool, status, _, error_type, _, model, ctype, caller = fact
    return (len(tool) > limit or len(server) > limit or len(caller) > limit
            or len(status) > limit or len(model) > limit or len(ctype) > limit
            or (error_type is not None and len(error_type) > limit))


def clip_fact(fact: Fact, limit: int) -> tuple[Fact, list[str]]:
    """``fact`` with every label value at most ``limit`` characters; and the names of the
    labels that were cut."""
    cut = [name for i, name in LABEL_FIELDS
           if isinstance(fact[i], str) and len(fact[i]) > limit]  # type: ignore[arg-type]
    if not cut:
        return fact, cut
    out = [clip(v, limit) if isinstance(v, str) else v for v in fact]
    return tuple(out), cut  # type: ignore[return-value]


class ToolMetrics:
    """Everything the exporter serves; ``record()`` is the per-invocation hot path."""

    def __init__(self, max_series: int = 10_000, per_caller: bool = False,
                 caller_limit: int = 100) -> None:
        m = max_series
        self.clock = clock = Clock()
        self.stats = st = Stats()
        self.calls = Family("mcp_hangar_tool_calls", "Tool invocations",
                            ("mcp_server", "tool", "status"), m, clock, st)
        self.duration = Histogram("mcp_hangar_tool_call_duration_seconds",
                                  "Tool invocation duration in seconds", ("mcp_server", "tool"),
                                  m, clock, st)
        self.errors = Family("mcp_hangar_tool_call_errors", "Failed tool invocations",
                             ("mcp_server", "tool", "error_type"), m, clock, st)
        self.cost = Family("mcp_hangar_cost_cents", "Attributed cost in hundredths of a cent",
                           ("mcp_server", "tool", "cost_model"), m, clock, st)
        self.attributions = Family("mcp_hangar_cost_attributions",
                                   "Tool invocations with a non-zero attributed cost",
                                   ("mcp_server", "tool"), m, clock, st)
        self.per_caller = per_caller
        self.caller_limit = caller_limit
        #: caller ids with series of their own -> when last seen (clock); first come first
        #: served up to caller_limit, a slot is freed when its caller id expires
        self.callers: dict[str, float] = {}
        labels = ("mcp_server", "tool", "caller_type", "caller_id")
        self.caller_calls = Family("mcp_hangar_caller_tool_calls",
                                   "Tool invocations per caller", labels, m, clock, st)
        self.caller_cost = Family("mcp_hangar_caller_cost_cents",
                                  "Attributed cost per caller in hundredths of a cent",
                                  (*labels, "cost_model"), m, clock, st)

    def preinit(self, server: str, tool: str, cost_model: str = "") -> None:
        """Create the success, duration and cost series of a tool at 0 (never evicted or
        expired: they are configured, so bounded)."""
        self.calls.pin((server, tool, "success"))
        self.duration.pin((server, tool))
        if cost_model:
            self.cost.pin((server, tool, cost_model))
            self.attributions.pin((server, tool))

    def record_all(self, invocations: Iterable[ToolInvocation]) -> int:
        """Count the tool calls among ``invocations`` (already chosen to count once,
        ``ledger.counting.counted``); returns how many."""
        n = 0
        for inv in invocations:
            if inv.event == TOOL_EVENT:
                self.record(fact_of(inv))
                n += 1
        return n

    def record(self, fact: Fact) -> None:
        """Count one call (``fact_of``)."""
        server, tool, status, duration_ms, error_type, cents, model, ctype, caller = fact
        self.calls.inc((server, tool, status))
        if duration_ms is not None and duration_ms >= 0:
            self.duration.observe((server, tool), duration_ms / 1000.0)
        if status != "success":
            self.errors.inc((server, tool, error_type or status))
        if cents:
            self.cost.inc((server, tool, model), cents)
            self.attributions.inc((server, tool))
        if self.per_caller:
            callers = self.callers
            if caller in callers or len(callers) < self.caller_limit:
                callers[caller] = self.clock.now
            else:
                caller = OTHER
            self.caller_calls.inc((server, tool, ctype, caller))
            if cents:
                self.caller_cost.inc((server, tool, ctype, caller, model), cents)

    def expire(self, cutoff: float) -> int:
        """Remove the series (and caller ids) last updated before ``cutoff``; returns how
        many series."""
        fams: list[Family | Histogram] = [*self._families(), self.duration]
        n = sum(f.expire(cutoff) for f in fams)
        if self.callers:
            for caller in [c for c, t in self.callers.items() if t < cutoff]:
                del self.callers[caller]
        self.stats.expired += n
        return n

    def series_count(self) -> int:
        fams: list[Family | Histogram] = [*self._families(), self.duration]
        return sum(len(f.values) for f in fams)

    def snapshot(self) -> bytes:
        """Every series, to continue from after a restart (``restore``)."""
        return orjson.dumps({
            "families": {f.name: [[*k, v] for k, v in f.values.items()]
                         for f in (*self._families(), self.caller_calls, self.caller_cost)},
            "duration": [[*k, *row] for k, row in self.duration.values.items()],
            "callers": sorted(self.callers)})

    def restore(self, data: bytes) -> None:
        """The series of ``snapshot``, each as if just updated (the clock now). A saved
        state with more series than ``max_series`` (a lower cap since) is cut by recency
        order as it is read: what does not fit is folded into ``__other__``."""
        state = orjson.loads(data)
        families = {f.name: f for f in (*self._families(), self.caller_calls,
                                        self.caller_cost)}
        for name, rows in state.get("families", {}).items():
            family = families.get(name)
            if family is None:
                continue
            width = len(family.labelnames)
            for row in rows:
                key, value = tuple(row[:width]), float(row[width])
                if key in family.values:
                    family.values[key] += value
                else:
                    family.inc(key, value)
        width = len(self.duration.labelnames)
        h = self.duration
        for row in state.get("duration", []):
            into = h.row(tuple(row[:width]))
            for i, n in enumerate(row[width:]):
                into[i] += float(n)
        for caller in state.get("callers", []):
            if len(self.callers) < self.caller_limit:
                self.callers[caller] = self.clock.now

    def _families(self) -> list[Family]:
        out = [self.calls, self.errors, self.cost, self.attributions]
        if self.per_caller:
            out += [self.caller_calls, self.caller_cost]
        return out

    def frozen(self) -> Frozen:
        """A copy of every series (``Frozen``), to render outside the event loop."""
        h = self.duration
        return Frozen([(f.name, f.description, f.labelnames, dict(f.values))
                       for f in self._families()],
                      (h.name, h.description, h.labelnames,
                       {k: row[:] for k, row in h.values.items()}))

    def write_to(self, files: SeriesFiles) -> None:
        """Write every series to this worker's multiprocess files (workers: N)."""
        self.frozen().write_to(files)

    def collect(self) -> Iterator[Any]:
        return self.frozen().collect()
