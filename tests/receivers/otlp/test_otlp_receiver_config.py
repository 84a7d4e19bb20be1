"""Config of the otlp receiver: the Collector's keys, defaults and clear errors."""

from __future__ import annotations

import pytest

from hangar_otelcol.component import Kind, Stability
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.receivers.otlp.factory import FACTORY
from hangar_otelcol.registry import Registry


def errors(raw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        build(FACTORY.config_class, raw, "receivers.otlp")
    return info.value.errors


def test_factory_is_a_stable_receiver_for_all_signals():
    # (the default registry imports every component; other folders may be mid-work)
    factory = Registry([FACTORY]).get(Kind.RECEIVER, "otlp")
    assert factory is FACTORY
    assert {s.value for s in factory.signals} == {"traces", "logs", "metrics"}
    assert set(factory.stability.values()) == {Stability.STABLE}


def test_empty_protocol_sections_mean_defaults():
    config = build(FACTORY.config_class, {"protocols": {"grpc": None, "http": None}})
    assert config.protocols.grpc.endpoint == "localhost:4317"  # as the Collector's
    assert config.protocols.grpc.max_recv_msg_size_mib == 4
    assert config.protocols.http.endpoint == "localhost:4318"
    assert config.protocols.http.max_request_body_size == 20 * 1024 * 1024
    assert config.protocols.http.traces_url_path == "/v1/traces"
    assert config.include_metadata is True


def test_only_http():
    config = build(FACTORY.config_class, {"protocols": {"http": {
        "endpoint": "127.0.0.1:9999", "max_request_body_size": "4MiB",
        "logs_url_path": "ingest/logs"}}})
    assert config.protocols.grpc is None
    assert config.protocols.http.max_request_body_size == 4 * 1024 * 1024
    assert config.protocols.http.logs_url_path == "/ingest/logs"


@pytest.mark.parametrize(("raw", "expected"), [
    ({}, "receivers.otlp.protocols: must specify at least one protocol"),
    ({"protocols": {}}, "receivers.otlp.protocols: must specify at least one protocol"),
    ({"protocols": {"grpc": {"endpoint": "4317"}}},
     "receivers.otlp.protocols.grpc.endpoint: expected host:port"),
    ({"protocols": {"grpc": {"max_recv_msg_size_mib": 0}}},
     "receivers.otlp.protocols.grpc.max_recv_msg_size_mib: must be between"),
    ({"protocols": {"http": {"max_request_body_size": "lots"}}},
     "receivers.otlp.protocols.http.max_request_body_size: invalid size"),
    ({"protocols": {"http": {"tls": {"cert_file": "c.pem"}}}},
     "receivers.otlp.protocols.http.tls.cert_file: cert_file and key_file"),
    ({"protocols": {"grpc": {"enpoint": "x:1"}}},
     "receivers.otlp.protocols.grpc.enpoint: unknown key"),
    ({"protocols": {"http": None}, "overload": {"retry_after": "soon"}},
     "receivers.otlp.overload.retry_after: invalid duration"),
])
def test_config_errors(raw, expected):
    found = errors(raw)
    assert any(e.startswith(expected) for e in found), found
