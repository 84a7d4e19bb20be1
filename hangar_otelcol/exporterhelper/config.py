"""The exporter helper's config keys, with the Collector's names and defaults
(``sending_queue``, ``retry_on_failure``, ``timeout``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from hangar_otelcol.config.types import Duration, StorageRef

_5S, _30S, _300S = Duration(5.0), Duration(30.0), Duration(300.0)


@dataclass
class QueueConfig:
    """``sending_queue``: where accepted data waits for a consumer task."""

    enabled: bool = True
    num_consumers: int = 10
    #: capacity, in units of ``sizer``
    queue_size: int = 1000
    sizer: Literal["requests", "items", "bytes"] = "requests"
    #: true: a full queue makes the caller wait; false: the data is refused with a retryable
    #: answer (the sender retries later; counted in otelcol_exporter_enqueue_failed_*)
    block_on_overflow: bool = False
    #: true: the caller waits until the data is sent (or failed) and gets the error
    wait_for_result: bool = False
    #: a storage extension (``file_storage``): the queue is written to it (even with
    #: ``enabled: false``), so what was accepted survives a crash or a restart and is sent
    #: then. Empty: in memory only.
    storage: StorageRef = StorageRef("")

    def validate(self) -> list[str]:
        errors = []
        if self.num_consumers < 1:
            errors.append(f"num_consumers: must be at least 1, got {self.num_consumers}")
        if self.queue_size < 1:
            errors.append(f"queue_size: must be at least 1, got {self.queue_size}")
        return errors


@dataclass
class RetryConfig:
    """``retry_on_failure``: exponential backoff with jitter, as in the Collector."""

    enabled: bool = True
    initial_interval: Duration = _5S
    max_interval: Duration = _30S
    #: give up after this long (0 = retry forever)
    max_elapsed_time: Duration = _300S
    multiplier: float = 1.5
    randomization_factor: float = 0.5

    def validate(self) -> list[str]:
        errors = []
        if self.multiplier < 1:
            errors.append(f"multiplier: must be at least 1, got {self.multiplier}")
        if not 0 <= self.randomization_factor <= 1:
            errors.append("randomization_factor: must be between 0 and 1, "
                          f"got {self.randomization_factor}")
        if self.enabled and self.initial_interval <= 0:
            errors.append("initial_interval: must be greater than 0")
        if self.max_interval < self.initial_interval:
            errors.append("max_interval: must not be less than initial_interval")
        return errors


class HelperSettings(Protocol):
    """What the helper reads from an exporter's config (the Collector's key names)."""

    @property
    def timeout(self) -> float: ...

    @property
    def sending_queue(self) -> QueueConfig: ...

    @property
    def retry_on_failure(self) -> RetryConfig: ...


@dataclass
class HelperConfig:
    """The exporterhelper keys, for exporters that embed nothing else (or inherit them)."""

    #: per attempt (0 = no timeout)
    timeout: Duration = _5S
    sending_queue: QueueConfig = field(default_factory=QueueConfig)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)
