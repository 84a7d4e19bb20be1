"""The Collector's (cenkalti) exponential backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from hangar_otelcol.exporterhelper.config import RetryConfig


class Backoff:
    """The Collector's (cenkalti) exponential backoff: jittered, capped, time-limited."""

    def __init__(self, config: RetryConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._clock = clock
        self._interval = float(config.initial_interval)
        self._start = clock()

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when time is up."""
        c = self._config
        delta = c.randomization_factor * self._interval
        delay = random.uniform(self._interval - delta, self._interval + delta)
        self._interval = min(self._interval * c.multiplier, float(c.max_interval))
        if retry_after is not None and retry_after > delay:
            delay = retry_after  # the server knows better than our jitter
        if c.max_elapsed_time > 0 and self._clock() - self._start + delay > c.max_elapsed_time:
            return None
        return delay
