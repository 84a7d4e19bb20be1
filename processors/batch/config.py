"""``processors.batch``: the Collector's keys and defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from hangar_otelcol.config.types import Duration, minimum_errors

_200MS = Duration(0.2)


@dataclass
class BatchConfig:
    #: items (spans, log records, metric points) that trigger a send; not a cap
    send_batch_size: int = 8192
    #: send what is held after this long (0: send at once, only split by the max size)
    timeout: Duration = _200MS
    #: upper bound of items per batch sent (0: unbounded); bigger parts are split
    send_batch_max_size: int = 0
    #: batch separately per value of these request metadata keys (headers)
    metadata_keys: list[str] = field(default_factory=list)
    #: at most this many distinct metadata value combinations
    metadata_cardinality_limit: int = 1000
    #: answer a request only once its batch was handed to the exporters (and, with
    #: persistent queues, written to disk), passing their refusals back to the sender.
    #: false: answer as soon as the batch holds the data, as the Collector does (a crash
    #: then loses what is held; refusals after batching are only logged and counted)
    ack_after_export: bool = True

    def validate(self) -> list[str]:
        errors = (minimum_errors("send_batch_size", self.send_batch_size, 0)
                  + minimum_errors("send_batch_max_size", self.send_batch_max_size, 0))
        if 0 < self.send_batch_max_size < self.send_batch_size:
            errors.append(f"send_batch_max_size: must be greater than or equal to "
                          f"send_batch_size ({self.send_batch_max_size} < "
                          f"{self.send_batch_size})")
        if self.metadata_keys and self.metadata_cardinality_limit < 1:
            errors.append("metadata_cardinality_limit: must be at least 1 when metadata_keys "
                          "is set")
        lowered = [k.lower() for k in self.metadata_keys]
        if len(set(lowered)) != len(lowered):
            errors.append("metadata_keys: duplicate keys (they are case-insensitive)")
        return errors
