"""Config of the ``otlp`` (gRPC) and ``otlp_http`` exporters, with the Collector's keys."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from hangar_otelcol.config.types import Duration
from hangar_otelcol.exporterhelper import QueueConfig, RetryConfig
from hangar_otelcol.net.tls import TLSClientConfig

_5S = Duration(5.0)
_30S = Duration(30.0)
_10S = Duration(10.0)


@dataclass
class KeepaliveConfig:
    """``keepalive`` (gRPC client): pings to detect dead connections through proxies."""

    time: Duration = _10S
    timeout: Duration = _10S
    permit_without_stream: bool = False


GRPC_COMPRESSIONS = ("gzip", "deflate", "none", "")


@dataclass
class OTLPGrpcConfig:
    """``exporters.otlp`` (alias ``otlp_grpc``)."""

    #: host:port; an ``https://`` prefix turns TLS on, ``http://`` turns it off
    endpoint: str = ""
    #: gRPC metadata sent with every request (API keys: ``api-key``, ``authorization``)
    headers: dict[str, str] = field(default_factory=dict)
    compression: str = "gzip"
    tls: TLSClientConfig = field(default_factory=TLSClientConfig)
    balancer_name: Literal["round_robin", "pick_first"] = "round_robin"
    #: on a lost connection, wait for it to come back (within ``timeout``) instead of failing
    wait_for_ready: bool = False
    keepalive: KeepaliveConfig | None = None
    #: ``authority`` header override (for a gateway behind a virtual-host proxy)
    authority: str = ""
    # the exporterhelper keys (see hangar_otelcol.exporterhelper)
    #: per attempt (0 = no timeout)
    timeout: Duration = _5S
    sending_queue: QueueConfig = field(default_factory=QueueConfig)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)

    def validate(self) -> list[str]:
        errors = []
        if not self.endpoint.strip():
            errors.append("endpoint: required (host:port of the OTLP/gRPC server, "
                          "e.g. otel-collector:4317)")
        else:
            try:
                grpc_target(self.endpoint)
            except ValueError as exc:
                errors.append(f"endpoint: {exc}")
        if self.compression not in GRPC_COMPRESSIONS:
            errors.append(f"compression: {self.compression!r} is not supported by the gRPC "
                          "client; use gzip, deflate or none")
        if self.tls.insecure_skip_verify:
            errors.append("tls.insecure_skip_verify: not supported by the Python gRPC client; "
                          "set tls.ca_file to the server's certificate instead")
        for key in self.headers:
            if not key or key != key.lower() or not key.isascii() or " " in key:
                errors.append(f"headers.{key}: gRPC metadata keys must be lower-case ASCII "
                              "without spaces")
        return errors


def grpc_target(endpoint: str) -> tuple[str, bool | None]:
    """``endpoint`` -> (gRPC target, TLS forced on/off by a URL scheme or None)."""
    text = endpoint.strip()
    tls: bool | None = None
    if text.startswith("https://"):
        text, tls = text[len("https://"):], True
    elif text.startswith("http://"):
        text, tls = text[len("http://"):], False
    text = text.rstrip("/")
    if "/" in text and not text.startswith(("dns:", "unix:", "ipv4:", "ipv6:")):
        raise ValueError(f"{endpoint!r} has a path; the gRPC exporter takes host:port")
    if not text:
        raise ValueError(f"{endpoint!r} has no host")
    return text, tls


HTTP_COMPRESSIONS = ("gzip", "zstd", "deflate", "none", "")


@dataclass
class BasicAuthConfig:
    """HTTP basic authentication of a client (Grafana Cloud: the instance id and a token)."""

    username: str = ""
    password: str = ""

    def validate(self) -> list[str]:
        if bool(self.username) != bool(self.password):
            return ["username: username and password must be set together"]
        return []

    def header(self) -> str | None:
        """The ``Authorization`` value, or None when not configured."""
        if not self.username:
            return None
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def auth_header_conflict(basic: BasicAuthConfig, headers: dict[str, str]) -> list[str]:
    if basic.username and any(k.lower() == "authorization" and v for k, v in headers.items()):
        return ["basic_auth: set either basic_auth or an authorization header"]
    return []


@dataclass
class OTLPHttpConfig:
    """``exporters.otlp_http`` (alias ``otlphttp``)."""

    #: base URL; ``/v1/traces``, ``/v1/logs``, ``/v1/metrics`` are appended
    endpoint: str = ""
    traces_endpoint: str = ""
    logs_endpoint: str = ""
    metrics_endpoint: str = ""
    encoding: Literal["proto", "json"] = "proto"
    compression: str = "gzip"
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: BasicAuthConfig = field(default_factory=BasicAuthConfig)
    tls: TLSClientConfig = field(default_factory=TLSClientConfig)
    # the exporterhelper keys; per attempt the Collector's otlphttp default is 30s
    timeout: Duration = _30S
    sending_queue: QueueConfig = field(default_factory=QueueConfig)
    retry_on_failure: RetryConfig = field(default_factory=RetryConfig)

    def validate(self) -> list[str]:
        errors = []
        per_signal = [self.traces_endpoint, self.logs_endpoint, self.metrics_endpoint]
        if not self.endpoint and not all(per_signal):
            errors.append("endpoint: required (base URL such as https://otlp.example.com:4318), "
                          "unless traces_endpoint, logs_endpoint and metrics_endpoint are all set")
        for key in ("endpoint", "traces_endpoint", "logs_endpoint", "metrics_endpoint"):
            url = getattr(self, key)
            if url:
                problem = _url_problem(url)
                if problem:
                    errors.append(f"{key}: {problem}")
        if self.compression not in HTTP_COMPRESSIONS:
            errors.append(f"compression: must be one of gzip, zstd, deflate, none; "
                          f"got {self.compression!r}")
        for key, value in self.headers.items():
            if not key or any(c in key for c in " :\r\n") or "\n" in value or "\r" in value:
                errors.append(f"headers.{key}: not a valid HTTP header")
        return errors + auth_header_conflict(self.basic_auth, self.headers)

    def url_for(self, signal: str) -> str:
        explicit = getattr(self, f"{signal}_endpoint")
        if explicit:
            return str(explicit)
        return self.endpoint.rstrip("/") + f"/v1/{signal}"


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"invalid URL {url!r}: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} must start with http:// or https://"
    if not parts.hostname:
        return f"{url!r} has no host"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"{url!r} has an invalid port"
    return None
