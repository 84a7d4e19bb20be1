"""Config: loading, expansion, merging, typed decoding and validation."""

from hangar_otelcol.config.types import ByteSize, ConfigError, Duration, build, decode

__all__ = ["ByteSize", "ConfigError", "Duration", "build", "decode"]
