from __future__ import annotations

from dataclasses import dataclass

from hangar_otelcol.net.endpoints import endpoint_problem


@dataclass
class HealthCheckConfig:
    #: the Collector binds localhost by default; a gateway in a container sets 0.0.0.0
    endpoint: str = "0.0.0.0:13133"
    path: str = "/"
    #: body returned with 200 (the Collector's default is empty; we return a JSON status)
    response_body: str = ""

    def validate(self) -> list[str]:
        errors = []
        problem = endpoint_problem(self.endpoint)
        if problem:
            errors.append(problem)
        if not self.path.startswith("/"):
            errors.append(f"path: must start with '/', got {self.path!r}")
        return errors
