"""Factory of the ``health_check`` extension."""

from __future__ import annotations

from hangar_otelcol.component import Stability, extension_factory
from hangar_otelcol.extensions.health_check.config import HealthCheckConfig
from hangar_otelcol.extensions.health_check.extension import HealthCheck

FACTORY = extension_factory(
    "health_check", HealthCheckConfig, HealthCheck, Stability.BETA, aliases=("healthcheck",),
    description="HTTP health endpoint: 200 when every component is up, 503 otherwise")
