"""Config of the ``mtls`` extension."""

from __future__ import annotations

from dataclasses import dataclass, field

from hangar_otelcol.auth import PRINCIPAL_TYPES
from hangar_otelcol.config.types import choice_errors

SOURCES = ("san_uri", "san_dns", "san_email", "cn")


@dataclass
class MtlsPrincipal:
    #: human | agent | service (empty: the extension's default_type)
    type: str = ""
    roles: list[str] = field(default_factory=list)

    def validate(self) -> list[str]:
        return choice_errors("type", self.type, PRINCIPAL_TYPES) if self.type else []


@dataclass
class MtlsConfig:
    #: where the principal's name comes from, in order of preference: the certificate's
    #: URI SANs (SPIFFE ids), DNS SANs, e-mail SANs, subject common name
    principal_from: list[str] = field(default_factory=lambda: list(SOURCES))
    #: glob patterns of the names accepted; the first name (in principal_from order) that
    #: matches one is the principal. Empty: any certificate the listener's CA verified.
    #: A verified certificate matching none is refused with PERMISSION_DENIED / 403.
    allowed: list[str] = field(default_factory=list)
    #: principal name -> its type and roles
    principals: dict[str, MtlsPrincipal] = field(default_factory=dict)
    #: type of a principal not in principals (or listed without a type)
    default_type: str = "service"

    def validate(self) -> list[str]:
        errors: list[str] = []
        if not self.principal_from:
            errors.append(f"principal_from: must name at least one of {', '.join(SOURCES)}")
        for i, source in enumerate(self.principal_from):
            errors += choice_errors(f"principal_from[{i}]", source, SOURCES)
        if len(set(self.principal_from)) != len(self.principal_from):
            errors.append("principal_from: lists a source twice")
        for i, pattern in enumerate(self.allowed):
            if not pattern:
                errors.append(f"allowed[{i}]: must not be empty")
        errors += choice_errors("default_type", self.default_type, PRINCIPAL_TYPES)
        return errors
