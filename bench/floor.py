"""The protobuf floor: parse + serialize of the very payloads the scenarios send, in-process.

Timed with ``time.process_time`` (CPU of this process), so it is the per-core ceiling that
any gateway doing at least one parse and one serialize per request cannot beat. Every
scenario is printed as a ratio of it, which compares across machines of different speed.
"""

from __future__ import annotations

import gc
import statistics
import time

from bench.payloads import Payload
from hangar_otelcol.signals import REQUEST_TYPES


def items_per_cpu_second(payload: Payload, runs: int = 5, run_seconds: float = 0.2) -> float:
    """Median over ``runs`` of items parsed+serialized per CPU-second."""
    cls = REQUEST_TYPES[payload.signal]
    wire = payload.proto
    # calibrate the loop count so one run takes about run_seconds
    t0 = time.process_time()
    cls.FromString(wire).SerializeToString()
    one = max(time.process_time() - t0, 1e-6)
    loops = max(1, int(run_seconds / one))
    rates = []
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        for _ in range(loops):
            cls.FromString(wire).SerializeToString()
        elapsed = time.process_time() - start
        if elapsed <= 0:  # coarse clock; count it as one tick
            elapsed = 0.01
        rates.append(loops * payload.items / elapsed)
    return statistics.median(rates)
