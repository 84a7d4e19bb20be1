"""Tool-call and cost series as plain dict accumulators, turned into families at scrape time.

A dict increment per invocation costs ~0.24 µs against ~6 µs for ``Counter.labels().inc()``
(bench/README.md). Names, labels and buckets are hangar's (the seed's release notes,
docs/identity-and-cost.md).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from prometheus_client.core import HistogramMetricFamily

from hangar_otelcol.mcp import TOOL_EVENT, ToolInvocation
from hangar_otelcol.multiprocess import SeriesFiles
from hangar_otelcol.telemetry import FastCounter

#: hangar's mcp_hangar_tool_call_duration_seconds buckets (+Inf implied)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OTHER = "__other__"


class Family(FastCounter):
    """A counter (the self-metrics' dict counter) with a cap on the number of label sets."""

    __slots__ = ("max_series",)

    def __init__(self, name: str, help_text: str, labels: tuple[str, ...], max_series: int
                 ) -> None:
        super().__init__(name, help_text, labels)
        self.max_series = max_series

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        values = self.values
        if key not in values and len(values) >= self.max_series:
            key = (OTHER,) * len(key)  # bounded: fold the excess into one series
        values[key] = values.get(key, 0.0) + amount


class Histogram:
    __slots__ = ("description", "labelnames", "max_series", "name", "values")

    def __init__(self, name: str, help_text: str, labels: tuple[str, ...], max_series: int
                 ) -> None:
        self.name = name
        self.description = help_text
        self.labelnames = labels
        self.max_series = max_series
        # key -> [count per bucket (non-cumulative, +Inf last)..., sum]
        self.values: dict[tuple[str, ...], list[float]] = {}

    def observe(self, key: tuple[str, ...], value: float) -> None:
        row = self.values.get(key)
        if row is None:
            if len(self.values) >= self.max_series:
                key = (OTHER,) * len(key)
                row = self.values.get(key)
            if row is None:
                row = [0.0] * (len(BUCKETS) + 2)
                self.values[key] = row
        row[bisect.bisect_left(BUCKETS, value)] += 1
        row[-1] += value

    def family(self) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(self.name, self.description, labels=self.labelnames)
        for key, row in self.values.items():
            cumulative, acc = [], 0.0
            for bound, n in zip((*BUCKETS, float("inf")), row[:-1], strict=True):
                acc += n
                cumulative.append((_bound(bound), acc))
            fam.add_metric(key, cumulative, sum_value=row[-1])
        return fam


def _bound(b: float) -> str:
    return "+Inf" if b == float("inf") else repr(b)


#: what counting one call needs: server, tool, status, duration (ms), error type, cost
#: (hundredths of a cent), cost model, caller type, caller id
Fact = tuple[str, str, str, float | None, str | None, int | None, str, str, str]


def fact_of(inv: ToolInvocation) -> Fact:
    return (inv.server or "", inv.tool or "", inv.status or "success", inv.duration_ms,
            inv.error_type, inv.cost_cents, inv.cost_model or "", inv.caller_type or "",
            inv.caller_id or "")


class ToolMetrics:
    """Everything the exporter serves; ``record()`` is the per-invocation hot path."""

    def __init__(self, max_series: int = 10_000, per_caller: bool = False,
                 caller_limit: int = 100) -> None:
        m = max_series
        self.calls = Family("mcp_hangar_tool_calls", "Tool invocations",
                            ("mcp_server", "tool", "status"), m)
        self.duration = Histogram("mcp_hangar_tool_call_duration_seconds",
                                  "Tool invocation duration in seconds", ("mcp_server", "tool"), m)
        self.errors = Family("mcp_hangar_tool_call_errors", "Failed tool invocations",
                             ("mcp_server", "tool", "error_type"), m)
        self.cost = Family("mcp_hangar_cost_cents", "Attributed cost in hundredths of a cent",
                           ("mcp_server", "tool", "cost_model"), m)
        self.attributions = Family("mcp_hangar_cost_attributions",
                                   "Tool invocations with a non-zero attributed cost",
                                   ("mcp_server", "tool"), m)
        self.per_caller = per_caller
        self.caller_limit = caller_limit
        self.callers: set[str] = set()
        labels = ("mcp_server", "tool", "caller_type", "caller_id")
        self.caller_calls = Family("mcp_hangar_caller_tool_calls",
                                   "Tool invocations per caller", labels, m)
        self.caller_cost = Family("mcp_hangar_caller_cost_cents",
                                  "Attributed cost per caller in hundredths of a cent",
                                  (*labels, "cost_model"), m)

    def preinit(self, server: str, tool: str, cost_model: str = "") -> None:
        """Create the success, duration and cost series of a tool at 0."""
        self.calls.inc((server, tool, "success"), 0.0)
        if (server, tool) not in self.duration.values:
            self.duration.values[(server, tool)] = [0.0] * (len(BUCKETS) + 2)
        if cost_model:
            self.cost.inc((server, tool, cost_model), 0.0)
            self.attributions.inc((server, tool), 0.0)

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
            if caller not in self.callers:
                if len(self.callers) >= self.caller_limit:
                    caller = OTHER
                else:
                    self.callers.add(caller)
            self.caller_calls.inc((server, tool, ctype, caller))
            if cents:
                self.caller_cost.inc((server, tool, ctype, caller, model), cents)

    def snapshot(self) -> bytes:
        """Every series, to continue from after a restart (``restore``)."""
        return orjson.dumps({
            "families": {f.name: [[*k, v] for k, v in f.values.items()]
                         for f in (*self._families(), self.caller_calls, self.caller_cost)},
            "duration": [[*k, *row] for k, row in self.duration.values.items()],
            "callers": sorted(self.callers)})

    def restore(self, data: bytes) -> None:
        state = orjson.loads(data)
        families = {f.name: f for f in (*self._families(), self.caller_calls,
                                        self.caller_cost)}
        for name, rows in state.get("families", {}).items():
            family = families.get(name)
            if family is None:
                continue
            width = len(family.labelnames)
            for row in rows:
                family.values[tuple(row[:width])] = float(row[width])
        width = len(self.duration.labelnames)
        for row in state.get("duration", []):
            self.duration.values[tuple(row[:width])] = [float(x) for x in row[width:]]
        self.callers.update(state.get("callers", []))

    def _families(self) -> list[Family]:
        out = [self.calls, self.errors, self.cost, self.attributions]
        if self.per_caller:
            out += [self.caller_calls, self.caller_cost]
        return out

    def write_to(self, files: SeriesFiles) -> None:
        """Write every series to this worker's multiprocess files (workers: N)."""
        for fam in self._families():
            files.write_counter(fam.name, fam.description, fam.labelnames, fam.values)
        h = self.duration
        files.write_histogram(h.name, h.description, h.labelnames, BUCKETS, h.values)

    def collect(self) -> Iterator[Any]:
        yield self.calls.family()
        yield self.duration.family()
        yield self.errors.family()
        yield self.cost.family()
        yield self.attributions.family()
        if self.per_caller:
            yield self.caller_calls.family()
            yield self.caller_cost.family()
