"""Factory of the ``otlp`` receiver."""

from __future__ import annotations

from collections.abc import Mapping

from hangar_otelcol.component import Consumer, CreateSettings, Factory, Kind, Stability
from hangar_otelcol.pdata import Signal
from hangar_otelcol.receivers.otlp.config import OTLPReceiverConfig
from hangar_otelcol.receivers.otlp.receiver import OTLPReceiver


def create(settings: CreateSettings, config: OTLPReceiverConfig,
           consumers: Mapping[Signal, Consumer]) -> OTLPReceiver:
    return OTLPReceiver(settings, config, consumers)


FACTORY = Factory(
    type="otlp",
    kind=Kind.RECEIVER,
    config_class=OTLPReceiverConfig,
    create=create,
    stability={Signal.TRACES.value: Stability.STABLE, Signal.LOGS.value: Stability.STABLE,
               Signal.METRICS.value: Stability.STABLE},
    description="OTLP over gRPC (4317) and HTTP (4318), protobuf and JSON",
)
