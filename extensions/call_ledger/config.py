"""Config of the ``call_ledger`` extension."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hangar_otelcol.config.types import Duration, StorageRef
from hangar_otelcol.net.endpoints import endpoint_problem
from hangar_otelcol.net.tls import TLSClientConfig

_SCHEMES = ("redis://", "rediss://")


@dataclass
class RedisLedgerConfig:
    """A Redis (or Valkey) that every replica shares (docs/scale-out.md)."""

    #: ``host:port`` (plain TCP) or ``rediss://host:port`` (TLS, verified with ``tls``);
    #: empty: no Redis
    endpoint: str = ""
    #: ACL user and password (``AUTH``); put the password in a file or the environment
    #: (``${file:...}``, ``${env:...}``)
    username: str = ""
    password: str = ""
    #: database number
    db: int = 0
    #: what every key of this gateway starts with (several gateways may share a Redis)
    key_prefix: str = "hangar-otelcol:ledger:"
    #: how long one request to Redis may take before the data it decides is refused
    #: (retryably) instead
    timeout: Duration = Duration(2.0)
    #: for ``rediss://``: the CA, client certificate, server name
    tls: TLSClientConfig = field(default_factory=TLSClientConfig)

    @property
    def uses_tls(self) -> bool:
        return self.endpoint.strip().startswith("rediss://")

    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.endpoint.strip() if "://" in self.endpoint
                         else f"redis://{self.endpoint.strip()}")
        return parts.hostname or "", parts.port or 6379

    def validate(self) -> list[str]:
        text = self.endpoint.strip()
        if not text:
            return []
        errors: list[str] = []
        if "://" in text:
            if not text.startswith(_SCHEMES):
                errors.append(f"endpoint: expected host:port, redis:// or rediss://, got "
                              f"{text!r}")
            else:
                parts = urlsplit(text)
                if parts.username or parts.password:
                    errors.append("endpoint: no credentials in the URL; use username and "
                                  "password (they are kept out of logs)")
                if parts.path not in ("", "/") or not parts.hostname:
                    errors.append(f"endpoint: expected rediss://host:port, got {text!r}")
        else:
            problem = endpoint_problem(text)
            if problem:
                errors.append(problem)
        if not 0 <= self.db <= 10_000:
            errors.append(f"db: must be 0 or more, got {self.db}")
        if self.timeout <= 0:
            errors.append("timeout: must be greater than 0")
        if not self.key_prefix:
            errors.append("key_prefix: must not be empty")
        return errors


@dataclass
class CallLedgerConfig:
    #: how long a reported call or a claim is remembered; longer than any delay between a
    #: call's span and its audit record (hangar's SDK flushes both every 5 s)
    ttl: Duration = Duration(600.0)
    #: most reported calls (and most claims) kept in memory; the oldest are forgotten first
    max_entries: int = 200_000
    #: a storage extension (``file_storage``): the ledger lives in its database, so it
    #: survives a restart and is shared by the workers of a gateway (``--workers``).
    #: Empty (and no ``redis``): in this process's memory.
    storage: StorageRef = StorageRef("")
    #: a Redis shared by every replica (several gateways behind a load balancer): a call's
    #: span and audit record are paired whichever replicas they reach
    redis: RedisLedgerConfig = field(default_factory=RedisLedgerConfig)

    def validate(self) -> list[str]:
        errors = []
        if self.ttl <= 0:
            errors.append("ttl: must be greater than 0")
        if self.max_entries < 1:
            errors.append(f"max_entries: must be at least 1, got {self.max_entries}")
        if self.storage and self.redis.endpoint.strip():
            errors.append("redis: set either storage (one gateway and its workers) or "
                          "redis (several replicas), not both")
        return errors
