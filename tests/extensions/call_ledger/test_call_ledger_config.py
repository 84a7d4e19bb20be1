"""call_ledger's config: a Redis endpoint is checked at load, with the offending path."""

from __future__ import annotations

import pytest

from hangar_otelcol.extensions.call_ledger.factory import FACTORY
from tests.support.auth import config_errors

WHERE = "extensions.call_ledger"


@pytest.mark.parametrize(("raw", "error"), [
    ({"storage": "file_storage", "redis": {"endpoint": "redis:6379"}},
     "extensions.call_ledger.redis: set either storage (one gateway and its workers) or "
     "redis (several replicas), not both"),
    ({"redis": {"endpoint": "redis"}},
     "extensions.call_ledger.redis.endpoint: expected host:port, got 'redis'"),
    ({"redis": {"endpoint": "http://redis:6379"}},
     "extensions.call_ledger.redis.endpoint: expected host:port, redis:// or rediss://, got "
     "'http://redis:6379'"),
    ({"redis": {"endpoint": "rediss://user:hunter2@redis:6380"}},
     "extensions.call_ledger.redis.endpoint: no credentials in the URL; use username and "
     "password (they are kept out of logs)"),
    ({"redis": {"endpoint": "redis:6379", "timeout": "0s"}},
     "extensions.call_ledger.redis.timeout: must be greater than 0"),
    ({"redis": {"endpoint": "redis:6379", "key_prefix": ""}},
     "extensions.call_ledger.redis.key_prefix: must not be empty"),
    ({"redis": {"endpont": "redis:6379"}},
     "extensions.call_ledger.redis.endpont: unknown key"),
])
def test_bad_redis_settings_name_their_path(raw: dict, error: str) -> None:
    errors = config_errors(FACTORY, raw, WHERE)
    assert any(e.startswith(error) for e in errors), errors


def test_a_redis_endpoint_as_host_port_or_url() -> None:
    config = FACTORY.config_class()
    config.redis.endpoint = "rediss://ledger.internal:6380"
    assert config.validate() == [] and config.redis.validate() == []
    assert config.redis.uses_tls and config.redis.host_port() == ("ledger.internal", 6380)
    config.redis.endpoint = "10.0.0.5:6379"
    assert not config.redis.uses_tls and config.redis.host_port() == ("10.0.0.5", 6379)
