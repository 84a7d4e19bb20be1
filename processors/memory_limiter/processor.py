"""The memory_limiter processor: refuse data while memory use is above the soft limit.

Every ``check_interval`` it reads the process's resident memory. Above the soft limit
(hard limit - spike limit) ``consume`` refuses with a retryable error and a retry hint,
which the receivers answer as UNAVAILABLE / 503 with RetryInfo / Retry-After, so senders
back off instead of the gateway growing until the kernel kills it; above the hard limit the
garbage collector also runs at once. Below the soft limit data passes untouched (a read of
one flag per batch). Put it first in a pipeline, as in the Collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os

from hangar_otelcol.component import Consumer, ConsumerError, CreateSettings, Host
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.processorhelper import SignalProcessor
from hangar_otelcol.processors.memory_limiter.config import MemoryLimiterConfig
from hangar_otelcol.tasks import cancel_and_wait

MiB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """RSS of this process (Linux /proc; 0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def available_bytes() -> int:
    """What the process may use: the cgroup's memory limit when there is one, else RAM."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            with open(path) as f:
                text = f.read().strip()
            if text != "max" and int(text) < 1 << 60:
                return int(text)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class MemoryLimiter(SignalProcessor[MemoryLimiterConfig]):
    def __init__(self, settings: CreateSettings, config: MemoryLimiterConfig, signal: Signal,
                 next_consumer: Consumer) -> None:
        super().__init__(settings, config, signal, next_consumer)
        if config.limit_mib:
            self.hard = config.limit_mib * MiB
            self.soft = self.hard - (config.spike_limit_mib * MiB or self.hard // 5)
        else:
            total = available_bytes()
            self.hard = total * config.limit_percentage // 100
            spike = config.spike_limit_percentage or config.limit_percentage // 5
            self.soft = self.hard - total * spike // 100
        self.refusing = False
        self.used = 0
        self._task: asyncio.Task[None] | None = None
        settings.telemetry.gauge("otelcol_processor_memory_limiter_refusing",
                                 "1 while data is refused for memory (the soft limit is passed)",
                                 lambda: float(self.refusing))

    async def start(self, host: Host) -> None:
        self.check()
        self._task = asyncio.create_task(self._watch(), name=f"{self.settings.id}-watch")

    async def shutdown(self) -> None:
        await cancel_and_wait(self._task)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(float(self.config.check_interval))
            self.check()

    def check(self) -> None:
        used = resident_bytes()
        if used > self.hard:
            gc.collect()
            used = resident_bytes()
        was, self.used = self.refusing, used
        self.refusing = used > self.soft
        if self.refusing and not was:
            self.problems.warn("refusing", "%s: memory use %d MiB is above the soft limit %d "
                               "MiB; refusing data (retryably) until it is below",
                               self.settings.id, used // MiB, self.soft // MiB)
        elif was and not self.refusing:
            self.logger.info("%s: memory use %d MiB is below the soft limit again; accepting "
                             "data", self.settings.id, used // MiB)

    async def consume(self, batch: Batch) -> None:
        if self.refusing:
            self.telemetry.refused(batch.signal, batch.item_count)
            raise ConsumerError(f"data refused: memory use {self.used // MiB} MiB is above the "
                                f"soft limit {self.soft // MiB} MiB",
                                retry_after=float(self.config.check_interval))
        await self.next.consume(batch)
