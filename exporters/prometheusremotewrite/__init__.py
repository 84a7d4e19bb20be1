"""prometheusremotewrite: OTLP metrics to a Prometheus remote-write 1.0 endpoint."""
