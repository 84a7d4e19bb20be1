"""Config of the ``memory_limiter`` processor, with the Collector's keys."""

from __future__ import annotations

from dataclasses import dataclass

from hangar_otelcol.config.types import Duration


@dataclass
class MemoryLimiterConfig:
    #: how often the process's memory (RSS) is read
    check_interval: Duration = Duration(1.0)
    #: hard limit in MiB; above it the garbage collector runs at once. 0: use
    #: limit_percentage of the memory the process may use (the cgroup's limit, else RAM)
    limit_mib: int = 0
    #: how far below the hard limit refusing starts (the soft limit); 0: 20% of the limit
    spike_limit_mib: int = 0
    limit_percentage: int = 0
    spike_limit_percentage: int = 0

    def validate(self) -> list[str]:
        errors = []
        if self.check_interval <= 0:
            errors.append("check_interval: must be greater than 0")
        if not self.limit_mib and not self.limit_percentage:
            errors.append("limit_mib: one of limit_mib or limit_percentage is required")
        if self.limit_mib and self.limit_percentage:
            errors.append("limit_percentage: set limit_mib or limit_percentage, not both")
        if self.limit_mib and self.spike_limit_mib >= self.limit_mib:
            errors.append("spike_limit_mib: must be smaller than limit_mib")
        for key in ("limit_percentage", "spike_limit_percentage"):
            if not 0 <= getattr(self, key) <= 100:
                errors.append(f"{key}: must be between 0 and 100")
        if self.limit_percentage and self.spike_limit_percentage >= self.limit_percentage:
            errors.append("spike_limit_percentage: must be smaller than limit_percentage")
        return errors
