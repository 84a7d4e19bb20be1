"""Benchmark suite for hangar-otelcol (issue 6). Run ``python -m bench`` from the repo root."""
