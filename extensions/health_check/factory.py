from __future__ import annotations

from hangar_otelcol.component import CreateSettings, Factory, Kind, Stability
from hangar_otelcol.extensions.health_check.config import HealthCheckConfig
from hangar_otelcol.extensions.health_check.extension import HealthCheck


def create(settings: CreateSettings, config: HealthCheckConfig) -> HealthCheck:
    return HealthCheck(settings, config)


FACTORY = Factory(
    type="health_check", kind=Kind.EXTENSION, config_class=HealthCheckConfig, create=create,
    stability={"extension": Stability.BETA}, aliases=("healthcheck",),
    description="HTTP health endpoint: 200 when every component is up, 503 otherwise")
