"""memory_limiter: above the soft limit data is refused retryably (the receiver answers
503 / UNAVAILABLE with a retry hint); below it, passes untouched."""

from __future__ import annotations

from typing import Any

import pytest

from hangar_otelcol.component import ConsumerError, Kind
from hangar_otelcol.config.types import ConfigError, build
from hangar_otelcol.pdata import Signal
from hangar_otelcol.processors.memory_limiter.config import MemoryLimiterConfig
from hangar_otelcol.processors.memory_limiter.factory import FACTORY
from hangar_otelcol.processors.memory_limiter.processor import MiB, resident_bytes
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, StandaloneHost, make_settings
from tests.support.otlp import trace_batch


def make(raw: dict[str, Any]) -> tuple[Any, CollectingConsumer, Telemetry]:
    tel = Telemetry()
    out = CollectingConsumer()
    proc = FACTORY.create(make_settings(Kind.PROCESSOR, "memory_limiter", tel),
                          build(MemoryLimiterConfig, raw, "processors.memory_limiter"),
                          Signal.TRACES, out)
    return proc, out, tel


async def test_below_the_soft_limit_data_passes() -> None:
    proc, out, _ = make({"limit_mib": resident_bytes() // MiB + 4096})
    await proc.start(StandaloneHost())
    await proc.consume(trace_batch(3))
    await proc.shutdown()
    assert out.items() == 3 and not proc.refusing


async def test_above_the_soft_limit_data_is_refused_retryably() -> None:
    used = resident_bytes() // MiB
    proc, out, tel = make({"limit_mib": used // 2 + 1, "spike_limit_mib": 1,
                           "check_interval": "2s"})
    await proc.start(StandaloneHost())
    with pytest.raises(ConsumerError, match="above the soft limit") as err:
        await proc.consume(trace_batch(3))
    await proc.shutdown()
    assert not err.value.permanent and err.value.retry_after == 2.0
    assert out.items() == 0
    assert tel.counter("otelcol_processor_refused_spans_total", "", ()).get(
        ("memory_limiter",)) == 3


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        build(MemoryLimiterConfig, {"limit_mib": 100, "spike_limit_mib": 200,
                                    "check_interval": 0}, "processors.memory_limiter")
    text = str(err.value)
    assert "processors.memory_limiter.spike_limit_mib: must be smaller than limit_mib" in text
    assert "processors.memory_limiter.check_interval: must be greater than 0" in text
    with pytest.raises(ConfigError, match="one of limit_mib or limit_percentage"):
        build(MemoryLimiterConfig, {}, "processors.memory_limiter")
