"""The ``otlp`` receiver: OTLP over gRPC and HTTP (protobuf and JSON)."""
