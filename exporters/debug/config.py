"""``exporters.debug``: the Collector's keys and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hangar_otelcol.config.types import minimum_errors


@dataclass
class DebugConfig:
    #: basic: one summary line per batch; normal: one line per record; detailed: everything
    verbosity: Literal["basic", "normal", "detailed"] = "basic"
    #: per second and signal: the first N batches are written ...
    sampling_initial: int = 2
    #: ... then every Mth (1 = all of them)
    sampling_thereafter: int = 1
    #: write through the gateway's logger instead of straight to stderr
    use_internal_logger: bool = False

    def validate(self) -> list[str]:
        return (minimum_errors("sampling_initial", self.sampling_initial, 0)
                + minimum_errors("sampling_thereafter", self.sampling_thereafter, 1))
