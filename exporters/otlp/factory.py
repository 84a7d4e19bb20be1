"""Factories of ``otlp`` (gRPC; alias ``otlp_grpc``) and ``otlp_http`` (alias ``otlphttp``)."""

from __future__ import annotations

from hangar_otelcol.component import ConsumingComponent, CreateSettings, Stability, exporter_factory

from .config import OTLPGrpcConfig, OTLPHttpConfig


def _create_grpc(settings: CreateSettings, config: OTLPGrpcConfig) -> ConsumingComponent:
    from .grpc_exporter import OTLPGrpcExporter  # grpc's channel code only when used

    return OTLPGrpcExporter(settings, config)


def _create_http(settings: CreateSettings, config: OTLPHttpConfig) -> ConsumingComponent:
    from .http_exporter import OTLPHttpExporter

    return OTLPHttpExporter(settings, config)


_ALL_SIGNALS = {"traces": Stability.BETA, "logs": Stability.BETA, "metrics": Stability.BETA}

FACTORIES = [
    exporter_factory("otlp", OTLPGrpcConfig, _create_grpc, _ALL_SIGNALS, aliases=("otlp_grpc",),
                     description="OTLP/gRPC to a collector or vendor (raw bytes, gzip, TLS, "
                                 "retries)"),
    exporter_factory("otlp_http", OTLPHttpConfig, _create_http, _ALL_SIGNALS,
                     aliases=("otlphttp",),
                     description="OTLP/HTTP protobuf or JSON to a collector or vendor"),
]
