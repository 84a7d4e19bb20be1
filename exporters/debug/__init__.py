"""The ``debug`` exporter: what passes through, on stderr (basic / normal / detailed)."""
