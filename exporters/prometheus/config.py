"""Config of the prometheus exporter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hangar_otelcol.config.types import Duration, LedgerRef, minimum_errors
from hangar_otelcol.exporterhelper import QueueConfig, RetryConfig
from hangar_otelcol.exporterhelper.seen import DedupeConfig
from hangar_otelcol.mcp import InvocationKeys
from hangar_otelcol.net.http import HttpServerConfig


@dataclass
class KnownTool:
    mcp_server: str = ""
    tool: str = ""
    cost_model: str = ""


@dataclass
class PrometheusQueueConfig(QueueConfig):
    """``sending_queue``: off by default (counting is instant in memory); with ``storage``
    the calls to count are queued on disk and the counters saved with the queue."""

    enabled: bool = False
    #: one counter applies the calls in order
    num_consumers: int = 1
    sizer: Literal["requests", "items", "bytes"] = "items"
    queue_size: int = 1_000_000


@dataclass
class CallCountingConfig:
    """What counting tool calls into the mcp_hangar_* series takes (``counting.CallCounter``;
    the prometheus exporter and the mcp_metrics connector)."""

    #: per-caller series mcp_hangar_caller_{tool_calls,cost_cents}_total{...,caller_type,
    #: caller_id}; off by default because caller ids can be many
    per_caller: bool = False
    #: distinct caller ids kept per-caller; later ones fold into caller_id="__other__"
    #: (a slot is freed when its caller id has not been seen for ``metric_expiration``)
    caller_limit: int = 100
    #: label sets with a series of their own per metric family. Kept by recency: a new
    #: one takes the place of the least recently updated one-shot series (a series
    #: updated twice is kept before those), whose value is added to the family's
    #: "__other__" series, so the sum over the family stays the total of every call
    max_series: int = 10_000
    #: label values (tool, server, caller id, ...) longer than this many characters are
    #: cut to it, the last character replaced by "…" (otelcol_<kind>_<type>_truncated_
    #: labels_total counts them); bounds what is served to about max_series x this
    max_label_value_length: int = 128
    #: a series not updated for this long is removed (and from the saved counters; the
    #: prometheusexporter's key; 0: never). When it comes back it starts again from 0,
    #: which rate() and increase() read as a counter reset
    metric_expiration: Duration = Duration(300)
    #: count tool-invocation spans too: real audit records are noted in ``ledger`` and a
    #: span counts only if none covers its call. The default gateway config feeds the
    #: counters audit records only (from the tool_audit connector) and turns this off.
    count_spans: bool = True
    #: the count-once ledger (an extension id); empty: the service's in-process one
    ledger: LedgerRef = LedgerRef("")
    #: series created at 0 at start (Prometheus docs: "avoid missing metrics"), so that
    #: increase()/rate() also see the first calls of these tools
    known_tools: list[KnownTool] = field(default_factory=list)
    invocations: InvocationKeys = field(default_factory=InvocationKeys)
    dedupe: DedupeConfig = field(default_factory=DedupeConfig)
    # the exporterhelper keys (hangar_otelcol.exporterhelper)
    timeout: Duration = Duration(0)
    sending_queue: PrometheusQueueConfig = field(default_factory=PrometheusQueueConfig)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)

    def validate(self) -> list[str]:
        errors = []
        for key in ("caller_limit", "max_series", "max_label_value_length"):
            errors += minimum_errors(key, getattr(self, key), 1)
        return errors


@dataclass
class PrometheusConfig(CallCountingConfig, HttpServerConfig):
    #: host:port of the /metrics server
    endpoint: str = "0.0.0.0:8889"
    path: str = "/metrics"

    def validate(self) -> list[str]:
        return HttpServerConfig.validate(self) + CallCountingConfig.validate(self)
