"""Config of the prometheusremotewrite exporter (the Collector contrib's keys)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from hangar_otelcol.config.types import Duration
from hangar_otelcol.exporterhelper import QueueConfig, RetryConfig
from hangar_otelcol.exporters.otlp.config import BasicAuthConfig, _url_problem, auth_header_conflict
from hangar_otelcol.net.tls import TLSClientConfig

_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass
class RemoteWriteQueueConfig(QueueConfig):
    #: one sender: remote write refuses a sample older than the newest of its series, so
    #: requests must arrive in order
    num_consumers: int = 1
    sizer: Literal["requests", "items", "bytes"] = "requests"
    queue_size: int = 10_000


@dataclass
class RemoteWriteConfig:
    #: the receiver's URL, e.g. https://prometheus-prod-01.grafana.net/api/prom/push or
    #: http://prometheus:9090/api/v1/write (Prometheus --web.enable-remote-write-receiver)
    endpoint: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    #: HTTP basic authentication (Grafana Cloud: the instance id and an access token)
    basic_auth: BasicAuthConfig = field(default_factory=BasicAuthConfig)
    tls: TLSClientConfig = field(default_factory=TLSClientConfig)
    #: a prefix for every metric name (``<namespace>_<name>``)
    namespace: str = ""
    #: labels added to every series (e.g. ``cluster: eu-1``)
    external_labels: dict[str, str] = field(default_factory=dict)
    #: ``_total`` for monotonic sums and unit suffixes (``_seconds``), as the Collector
    add_metric_suffixes: bool = True
    # the exporterhelper keys; the contrib exporter's default per-attempt timeout is 5s
    timeout: Duration = Duration(5.0)
    sending_queue: RemoteWriteQueueConfig = field(default_factory=RemoteWriteQueueConfig)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)

    def validate(self) -> list[str]:
        errors = []
        if not self.endpoint:
            errors.append("endpoint: required (the remote-write URL, e.g. "
                          "http://prometheus:9090/api/v1/write)")
        else:
            problem = _url_problem(self.endpoint)
            if problem:
                errors.append(f"endpoint: {problem}")
        for key, value in self.headers.items():
            if not key or any(c in key for c in " :\r\n") or "\n" in value or "\r" in value:
                errors.append(f"headers.{key}: not a valid HTTP header")
        errors += auth_header_conflict(self.basic_auth, self.headers)
        for name in self.external_labels:
            if not _LABEL.match(name) or name.startswith("__"):
                errors.append(f"external_labels.{name}: not a valid Prometheus label name")
        if self.namespace and not _LABEL.match(self.namespace):
            errors.append(f"namespace: not a valid Prometheus name prefix: {self.namespace!r}")
        return errors
