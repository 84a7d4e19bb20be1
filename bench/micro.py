"""Per-operation costs behind the design choices the code comments cite.

``python -m bench.micro`` times each pair of alternatives in-process (best of 5 runs of
``timeit``) and prints microseconds per operation; bench/README.md ("Per-operation
costs") keeps the figures of the last run.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable

from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client import CollectorRegistry, Counter

from hangar_otelcol.mcp.attrs import encode_attribute
from hangar_otelcol.mcp.view import SPAN_ATTRIBUTES


def _best(stmt: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=5)) / number * 1e6


def counters() -> dict[str, float]:
    values: dict[tuple[str, ...], float] = {}
    key = ("math", "add", "success")

    def dict_inc() -> None:
        values[key] = values.get(key, 0) + 1

    counter = Counter("calls", "calls", ("s", "t", "st"), registry=CollectorRegistry())

    def client_inc() -> None:
        counter.labels("math", "add", "success").inc()

    return {"dict increment (FastCounter)": _best(dict_inc, 200_000),
            "prometheus_client labels().inc()": _best(client_inc, 100_000)}


def attributes() -> dict[str, float]:
    values = {"mcp.caller.type": "human", "mcp.caller.id": "alice",
              "mcp.caller.roles": "admin,dev"}
    encoded = b"".join(encode_attribute(SPAN_ATTRIBUTES, k, v) for k, v in values.items())

    def build() -> None:
        span = Span()
        for k, v in values.items():
            span.attributes.add(key=k).value.string_value = v

    def merge() -> None:
        Span().MergeFromString(encoded)

    return {"3 attributes as KeyValue objects": _best(build, 50_000),
            "3 attributes as pre-encoded bytes (MergeFromString)": _best(merge, 50_000)}


def timestamps() -> dict[str, float]:
    now = time.time()
    cache: dict[int, str] = {}

    def strftime() -> None:
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))

    def cached() -> None:
        second = int(now)
        text = cache.get(second)
        if text is None:
            text = cache[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))

    return {"strftime per record": _best(strftime, 100_000),
            "one-entry per-second cache": _best(cached, 200_000)}


def main() -> None:
    for group in (counters, attributes, timestamps):
        for name, micros in group().items():
            print(f"{name:55s} {micros:8.3f} us")


if __name__ == "__main__":
    main()
