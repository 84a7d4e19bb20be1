"""Factories of ``otlp`` (gRPC; alias ``otlp_grpc``) and ``otlp_http`` (alias ``otlphttp``)."""

from __future__ import annotations

from hangar_otelcol.component import CreateSettings, Factory, Kind, Stability

from .config import OTLPGrpcConfig, OTLPHttpConfig


def _create_grpc(settings: CreateSettings, config: OTLPGrpcConfig):  # type: ignore[no-untyped-def]
    from .grpc_exporter import OTLPGrpcExporter

    return OTLPGrpcExporter(settings, config)


def _create_http(settings: CreateSettings, config: OTLPHttpConfig):  # type: ignore[no-untyped-def]
    from .http_exporter import OTLPHttpExporter

    return OTLPHttpExporter(settings, config)


_ALL_SIGNALS = {"traces": Stability.BETA, "logs": Stability.BETA, "metrics": Stability.BETA}

FACTORIES = [
    Factory(type="otlp", kind=Kind.EXPORTER, config_class=OTLPGrpcConfig, create=_create_grpc,
            stability=_ALL_SIGNALS, aliases=("otlp_grpc",),
            description="OTLP/gRPC to a collector or vendor (raw bytes, gzip, TLS, retries)"),
    Factory(type="otlp_http", kind=Kind.EXPORTER, config_class=OTLPHttpConfig,
            create=_create_http, stability=_ALL_SIGNALS, aliases=("otlphttp",),
            description="OTLP/HTTP protobuf or JSON to a collector or vendor"),
]
