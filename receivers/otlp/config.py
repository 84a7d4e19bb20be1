"""Config of the ``otlp`` receiver, in the OpenTelemetry Collector's shape.

    receivers:
      otlp:
        protocols:
          grpc:                      # present (even empty) = enabled
            endpoint: localhost:4317
            max_recv_msg_size_mib: 4
            auth:
              authenticator: bearertokenauth   # an authenticator extension
              allow: {logs: [hangar-*]}        # optional: who may send which signal
          http:
            endpoint: localhost:4318
            max_request_body_size: 20MiB
        include_metadata: true
        overload:
          max_inflight_bytes: 16MiB
          max_inflight_requests: 512
          retry_after: 1s

Every key has a safe default: a slow or idle client is closed, each protocol takes at most
its share of the process's file descriptors, so a flood of one cannot stop the other
(docs/security.md, "Hardening").

The endpoints default to localhost, as the Collector's do. A listener on any other
address must authenticate its senders (``auth``, or mTLS with ``tls.client_ca_file``) or
say ``insecure_no_auth: true``; otherwise the config is refused (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hangar_otelcol.config.types import (
    AuthenticatorRef,
    ByteSize,
    Duration,
    decode,
    minimum_errors,
)
from hangar_otelcol.net.endpoints import endpoint_problem, is_loopback, split_endpoint
from hangar_otelcol.net.tls import TLSServerConfig
from hangar_otelcol.signals import Signal

MiB = 1024 * 1024


class _Absent:
    """Marks a protocol section that is not in the config (so it is off)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


@dataclass
class AuthConfig:
    """``auth`` of a listener (the Collector's configauth): who may send."""

    #: an authenticator extension (bearertokenauth, oidc, basicauth, mtls)
    authenticator: AuthenticatorRef = AuthenticatorRef("")
    #: per signal, the principals that may send it (glob patterns over the subject, or
    #: ``<authenticator>:<subject>``); a signal not listed: every authenticated principal
    allow: dict[str, list[str]] = field(default_factory=dict)

    def validate(self) -> list[str]:
        errors = []
        if not self.authenticator:
            errors.append("authenticator: required (the id of an authenticator extension)")
        for signal, patterns in self.allow.items():
            if signal not in Signal._value2member_map_:
                errors.append(f"allow.{signal}: unknown signal (traces, logs or metrics)")
            elif not patterns:
                errors.append(f"allow.{signal}: empty (nobody could send {signal}; remove "
                              "the signal from the receiver's pipelines instead)")
        return errors


def _exposure_problem(endpoint: str, auth: AuthConfig | None, tls: TLSServerConfig | None,
                      insecure_no_auth: bool) -> str | None:
    """A listener other hosts can reach must know who sends (docs/security.md)."""
    if auth is not None or insecure_no_auth or (tls is not None and tls.client_ca_file):
        return None
    try:
        host, _ = split_endpoint(endpoint)
    except ValueError:
        return None  # reported by endpoint_problem
    if is_loopback(host):
        return None
    return (f"endpoint: {endpoint} accepts data from other hosts, and nothing authenticates "
            "them: anyone who reaches it writes compliance records and costs. Set "
            "auth.authenticator (bearertokenauth, oidc, basicauth, mtls) or "
            "tls.client_ca_file, or, if the network itself is trusted, insecure_no_auth: "
            "true (docs/security.md)")


def fd_share(fraction: float = 0.25, floor: int = 64) -> int:
    """A share of the soft file-descriptor limit (RLIMIT_NOFILE), the default connection cap
    of each protocol: with the usual 1024, 256 connections each, which leaves the other
    protocol, the exporters, the queues and the logs their descriptors."""
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # not on POSIX
        return 1024
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return 16384
    return max(floor, int(soft * fraction))


@dataclass
class ServerParameters:
    """``keepalive.server_parameters`` (the Collector's configgrpc): 0 = never."""

    #: a connection without any call for this long is closed (GOAWAY). The Collector's
    #: default is infinity; 5m here, so idle clients do not hold descriptors forever
    max_connection_idle: Duration = Duration(300.0)
    #: a connection older than this is closed gracefully (0 = never, the Collector's default)
    max_connection_age: Duration = Duration(0.0)
    #: after max_connection_age, calls in progress get this long to finish (0 = infinity)
    max_connection_age_grace: Duration = Duration(0.0)
    #: the server pings a connection quiet for this long (the Collector's default: 2h)
    time: Duration = Duration(7200.0)
    #: and closes it when the ping is not answered within this (the Collector's: 20s)
    timeout: Duration = Duration(20.0)


@dataclass
class EnforcementPolicy:
    """``keepalive.enforcement_policy``: clients pinging more often are disconnected."""

    #: the shortest ping interval allowed from a client (the Collector's default: 5m)
    min_time: Duration = Duration(300.0)
    #: allow pings on a connection without calls in progress
    permit_without_stream: bool = False


@dataclass
class KeepaliveConfig:
    server_parameters: ServerParameters = field(default_factory=ServerParameters)
    enforcement_policy: EnforcementPolicy = field(default_factory=EnforcementPolicy)

    def validate(self) -> list[str]:
        sp = self.server_parameters
        if sp.time and not sp.timeout:
            return ["server_parameters.timeout: must be positive when server_parameters.time "
                    "is set (how long a ping may go unanswered)"]
        return []


class _Listener:
    """What the gRPC and the HTTP listener share: the checks of their endpoint, of who can
    reach it and of their connection cap, and the values derived from those keys. Their
    dataclasses declare the fields (each with its own default and place in the config)."""

    endpoint: str
    max_connections: int
    tls: TLSServerConfig | None
    auth: AuthConfig | None
    insecure_no_auth: bool

    @property
    def connection_cap(self) -> int:
        return self.max_connections or fd_share()

    @property
    def client_certificates(self) -> bool:
        """The listener asks for client certificates and verifies them (mTLS)."""
        return bool(self.tls is not None and self.tls.client_ca_file)

    def validate(self) -> list[str]:
        errors = []
        for problem in (endpoint_problem(self.endpoint), _exposure_problem(
                self.endpoint, self.auth, self.tls, self.insecure_no_auth)):
            if problem:
                errors.append(problem)
        errors += self.protocol_errors()
        if self.max_connections < 0:
            errors.append("max_connections: must not be negative (0 = a share of the "
                          "file-descriptor limit)")
        return errors

    def protocol_errors(self) -> list[str]:
        """The problems of the protocol's own keys."""
        return []


@dataclass
class GRPCConfig(_Listener):
    endpoint: str = "localhost:4317"
    #: largest request accepted (after decompression); larger -> RESOURCE_EXHAUSTED
    max_recv_msg_size_mib: int = 4
    #: calls in progress on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); 0 =
    #: grpc's default (unlimited). The overload limits bound the calls of all connections
    max_concurrent_streams: int = 100
    #: open connections accepted (grpc.max_allowed_incoming_connections); more are closed
    #: at once. 0 = a quarter of the soft file-descriptor limit (256 of the usual 1024)
    max_connections: int = 0
    #: idle connections, connection age and pings (the Collector's keys)
    keepalive: KeepaliveConfig = field(default_factory=KeepaliveConfig)
    tls: TLSServerConfig | None = None
    auth: AuthConfig | None = None
    #: true: listen on a non-loopback address without authenticating senders, knowingly
    insecure_no_auth: bool = False
    #: SO_REUSEPORT, for several worker processes on one port
    reuse_port: bool = False

    def protocol_errors(self) -> list[str]:
        errors = []
        if not 1 <= self.max_recv_msg_size_mib <= 2047:
            errors.append("max_recv_msg_size_mib: must be between 1 and 2047")
        errors += minimum_errors("max_concurrent_streams", self.max_concurrent_streams, 0)
        return errors


@dataclass
class HTTPConfig(_Listener):
    endpoint: str = "localhost:4318"
    traces_url_path: str = "/v1/traces"
    logs_url_path: str = "/v1/logs"
    metrics_url_path: str = "/v1/metrics"
    #: largest body accepted, applied before and after decompression; larger -> 413
    max_request_body_size: ByteSize = ByteSize(20 * MiB)
    #: from the connection's first byte (or a keep-alive request's first byte) until its
    #: headers are complete; slower clients (slowloris) are closed with 408. 0 = no limit
    read_header_timeout: Duration = Duration(10.0)
    #: from the end of the headers until the whole body arrived; a stalled body is answered
    #: 408 and its connection closed, and its in-flight bytes released. 0 = no limit.
    #: 30s reads 20MiB at 5.6 Mbit/s
    read_timeout: Duration = Duration(30.0)
    #: a keep-alive connection waiting this long for its next request is closed (aiohttp's
    #: keepalive_timeout, which defaults to 3630s)
    idle_timeout: Duration = Duration(60.0)
    #: open connections; the next one is answered 503 and closed at once. 0 = a quarter
    #: of the soft file-descriptor limit (256 of the usual 1024), so a flood of HTTP
    #: connections leaves gRPC, the exporters and the queues their descriptors
    max_connections: int = 0
    tls: TLSServerConfig | None = None
    auth: AuthConfig | None = None
    insecure_no_auth: bool = False
    reuse_port: bool = False

    def __post_init__(self) -> None:
        # the Collector adds a missing leading slash (SanitizedURLPath)
        for name in ("traces_url_path", "logs_url_path", "metrics_url_path"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.startswith("/"):
                setattr(self, name, "/" + value)

    def protocol_errors(self) -> list[str]:
        errors = []
        paths = [self.traces_url_path, self.logs_url_path, self.metrics_url_path]
        if len(set(paths)) != len(paths):
            errors.append("traces_url_path: the three url paths must differ")
        if self.max_request_body_size <= 0:
            errors.append("max_request_body_size: must be positive")
        if self.idle_timeout <= 0:
            errors.append("idle_timeout: must be positive (how long a keep-alive connection "
                          "may wait for its next request)")
        return errors


@dataclass
class ProtocolsConfig:
    """Which protocols to serve: a section that is present (even empty) is on."""

    grpc: Any = ABSENT
    http: Any = ABSENT

    def __post_init__(self) -> None:
        # An empty ``grpc:`` in YAML is null and still means "on with defaults",
        # which the generic decoder cannot express; the sections are decoded here.
        self._errors: list[str] = []
        self.grpc = self._section("grpc", GRPCConfig, self.grpc)
        self.http = self._section("http", HTTPConfig, self.http)

    def _section(self, name: str, cls: type, raw: Any) -> Any:
        if raw is ABSENT or isinstance(raw, cls):
            return None if raw is ABSENT else raw
        if raw is None:
            return cls()
        return decode(cls, raw, name, self._errors)

    def validate(self) -> list[str]:
        return list(self._errors)


@dataclass
class OverloadConfig:
    """Refuse (retryably) instead of queueing without bound when too much is in flight.

    Over a limit, requests are refused with HTTP 429 + Retry-After and gRPC
    RESOURCE_EXHAUSTED + RetryInfo, which the OpenTelemetry SDKs and the Collector retry.
    """

    #: request bytes (decompressed) being processed or waiting for their acknowledgement
    #: (0 = no limit). The pipeline holds about 15x this in memory while they wait
    #: (docs/durability.md), so this bounds the memory a burst can take; a batch of 8192
    #: records needs about 3MiB in flight
    max_inflight_bytes: ByteSize = ByteSize(16 * MiB)
    #: requests being processed at once (0 = no limit)
    max_inflight_requests: int = 512
    #: the Retry-After hint sent with a refusal
    retry_after: Duration = Duration(1.0)

    def validate(self) -> list[str]:
        return minimum_errors("max_inflight_requests", self.max_inflight_requests, 0)


@dataclass
class OTLPReceiverConfig:
    protocols: ProtocolsConfig = field(default_factory=ProtocolsConfig)
    #: keep request headers / gRPC metadata on each part (the caller processor reads them)
    include_metadata: bool = True
    overload: OverloadConfig = field(default_factory=OverloadConfig)
    #: how long shutdown waits for requests already being processed
    shutdown_timeout: Duration = Duration(5.0)
    #: bodies larger than this are decoded (OTLP/JSON -> protobuf -> objects) in a worker
    #: thread, one at a time, so the event loop keeps serving small clients meanwhile
    #: (docs/security.md). 0 = always on the event loop
    offload_decode_above: ByteSize = ByteSize(1 * MiB)

    def validate(self) -> list[str]:
        if self.protocols.grpc is None and self.protocols.http is None:
            return ["protocols: must specify at least one protocol (grpc or http) "
                    "when using the otlp receiver"]
        return []
