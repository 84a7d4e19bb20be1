"""What the test folders share, written once.

- ``paths``: the repository and ``tests/testdata``
- ``captures``: the real hangar OTLP captures in ``tests/testdata/hangar-captures``
- ``otlp``: OTLP request builders and readers (``trace_batch``, ``items``, ``attrs`` ...)
- ``sdk_data``: spans, log records and metrics made by the real OpenTelemetry SDK
- ``sinks``: real OTLP servers on 127.0.0.1 (``GrpcSink``, ``HttpSink``)
- ``gateway``: the gateway as a subprocess (``GatewayProcess``, ``run_gateway``)
- ``processes``: stopping a subprocess, waiting until it serves HTTP
- ``waiting``: polling until a condition holds (``eventually``, ``wait_for``)
- ``metrics``: scraping and parsing Prometheus text
- ``tls``: certificates made on the fly
"""
