from __future__ import annotations

from dataclasses import dataclass

from hangar_otelcol.config.types import split_endpoint


@dataclass
class HealthCheckConfig:
    #: the Collector binds localhost by default; a gateway in a container sets 0.0.0.0
    endpoint: str = "0.0.0.0:13133"
    path: str = "/"
    #: body returned with 200 (the Collector's default is empty; we return a JSON status)
    response_body: str = ""

    def validate(self) -> list[str]:
        errors = []
        try:
            split_endpoint(self.endpoint)
        except ValueError as exc:
            errors.append(str(exc))
        if not self.path.startswith("/"):
            errors.append(f"path: must start with '/', got {self.path!r}")
        return errors
