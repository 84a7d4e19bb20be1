"""Fixtures for the otlp receiver tests: a real receiver on free 127.0.0.1 ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hangar_otelcol.component import Consumer, Kind
from hangar_otelcol.pdata import Signal
from hangar_otelcol.receivers.otlp.factory import FACTORY
from hangar_otelcol.receivers.otlp.receiver import OTLPReceiver
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import CollectingConsumer, StandaloneHost, make_settings
from tests.receivers.otlp.helpers import Running, Starter, receiver_config


@pytest.fixture
async def start_receiver() -> AsyncIterator[Starter]:
    started: list[OTLPReceiver] = []

    async def start(config: Any = None, consumers: dict[Signal, Consumer] | None = None,
                    host: StandaloneHost | None = None) -> Running:
        config = config if config is not None else receiver_config()
        if consumers is None:
            consumers = {s: CollectingConsumer() for s in Signal}
        telemetry = Telemetry()
        settings = make_settings(Kind.RECEIVER, "otlp", telemetry)
        receiver = FACTORY.create(settings, config, consumers)
        await receiver.start(host or StandaloneHost())
        started.append(receiver)
        return Running(receiver, consumers, telemetry)

    yield start
    for receiver in started:
        await receiver.shutdown()
