"""Config of the ``health_check`` extension."""

from __future__ import annotations

from dataclasses import dataclass

from hangar_otelcol.net.http import HttpServerConfig


@dataclass
class HealthCheckConfig(HttpServerConfig):
    #: the Collector binds localhost by default; a gateway in a container sets 0.0.0.0
    endpoint: str = "0.0.0.0:13133"
    path: str = "/"
    #: body returned with 200 (the Collector's default is empty; we return a JSON status)
    response_body: str = ""
