"""The ``prometheus`` exporter: hangar's tool and cost series on /metrics."""
