"""OTLP exporters: ``otlp`` (gRPC, alias ``otlp_grpc``) and ``otlp_http`` (alias ``otlphttp``)."""
