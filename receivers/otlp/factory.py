"""Factory of the ``otlp`` receiver."""

from __future__ import annotations

from hangar_otelcol.component import Stability, receiver_factory
from hangar_otelcol.receivers.otlp.config import OTLPReceiverConfig
from hangar_otelcol.receivers.otlp.receiver import OTLPReceiver

FACTORY = receiver_factory(
    "otlp", OTLPReceiverConfig, OTLPReceiver,
    {"traces": Stability.STABLE, "logs": Stability.STABLE, "metrics": Stability.STABLE},
    description="OTLP over gRPC (4317) and HTTP (4318), protobuf and JSON")
