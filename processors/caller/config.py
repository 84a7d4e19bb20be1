"""Config of the mcp_caller processor."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from hangar_otelcol.auth import PRINCIPAL_TYPES
from hangar_otelcol.auth.jwt import JwtKeysConfig
from hangar_otelcol.config.types import choice_errors
from hangar_otelcol.mcp import InvocationKeys

SOURCES = ("attributes", "jwt", "headers", "static")


@dataclass
class ClaimsConfig:
    """Which claims hold what; the first claim present wins."""

    id: list[str] = field(default_factory=lambda: ["sub"])
    type: list[str] = field(default_factory=lambda: ["type", "principal_type"])
    roles: list[str] = field(default_factory=lambda: ["roles", "groups", "scope"])


@dataclass
class JwtConfig(JwtKeysConfig):
    """The keys and checks (``hangar_otelcol.auth.jwt``, shared with the ``oidc``
    extension), where the token is found, and which claims hold the identity."""

    #: request metadata key (HTTP header / gRPC metadata, lower case) holding the token
    header: str = "authorization"
    #: a record attribute holding a token (optional; checked after the header)
    attribute: str = ""
    claims: ClaimsConfig = field(default_factory=ClaimsConfig)
    #: type when the token has no type claim (hangar's JWT default principal is a user)
    default_type: str = "human"

    def validate(self) -> list[str]:
        errors = super().validate()
        if self.enabled:
            errors += choice_errors("default_type", self.default_type, PRINCIPAL_TYPES)
        return errors


@dataclass
class HeadersConfig:
    """hangar-style identity headers, believed only from trusted senders."""

    trusted_senders: list[str] = field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    user_id: str = "x-user-id"
    agent_id: str = "x-agent-id"
    principal_type: str = "x-principal-type"
    roles: str = "x-caller-roles"

    def validate(self) -> list[str]:
        errors = []
        for i, cidr in enumerate(self.trusted_senders):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                errors.append(f"trusted_senders[{i}]: not an IP address or CIDR: {cidr!r}")
        return errors


@dataclass
class StaticIdentity:
    #: caller id to set when this entry matched a service.name (default: the service.name)
    id: str = ""
    type: str = ""
    roles: list[str] = field(default_factory=list)

    def validate(self) -> list[str]:
        return choice_errors("type", self.type, PRINCIPAL_TYPES) if self.type else []


MODES = ("auto", "enforce", "trust")
ON_MISSING = ("mark", "refuse")


@dataclass
class CallerConfig:
    #: whose word identity is (docs/security.md): ``trust``: every source in ``sources``,
    #: the sender may say who its caller is; ``enforce``: identity only from the principal
    #: the receiver authenticated (mapped by ``principals``) or a token verified here, and
    #: what the sender wrote is removed; ``auto``: enforce for requests whose receiver
    #: authenticated them, trust for the others
    mode: str = "auto"
    #: principal (a subject, or ``<authenticator>:<subject>``) -> the caller it is
    principals: dict[str, StaticIdentity] = field(default_factory=dict)
    #: principals (glob patterns) that send their own callers' identity, believed in
    #: enforce mode too: a hangar in front of many users
    trusted_principals: list[str] = field(default_factory=list)
    #: enforce mode, a request with no authenticated principal and no valid token: ``mark``
    #: its records (caller id ``unauthenticated``) or ``refuse`` it (not retried)
    on_missing: str = "mark"
    #: where identity is looked for, in order; the first source that yields an id wins
    sources: list[str] = field(default_factory=lambda: list(SOURCES))
    jwt: JwtConfig = field(default_factory=JwtConfig)
    headers: HeadersConfig = field(default_factory=HeadersConfig)
    #: caller id or service.name -> type and roles (fills in what the source left out)
    static: dict[str, StaticIdentity] = field(default_factory=dict)
    #: identity when no source found one (empty: leave the record without mcp.caller.*)
    default: StaticIdentity = field(default_factory=StaticIdentity)
    #: principal types of hangar and others -> human | agent | service
    type_map: dict[str, str] = field(default_factory=lambda: {
        "user": "human", "human": "human", "agent": "agent", "service": "service",
        "service_account": "service", "system": "service"})
    #: also write the semantic-convention keys enduser.id and user.roles
    semconv: bool = False
    invocations: InvocationKeys = field(default_factory=InvocationKeys)

    def validate(self) -> list[str]:
        errors = choice_errors("mode", self.mode, MODES)
        errors += choice_errors("on_missing", self.on_missing, ON_MISSING)
        for i, source in enumerate(self.sources):
            errors += choice_errors(f"sources[{i}]", source, SOURCES)
        for key, value in self.type_map.items():
            errors += choice_errors(f"type_map.{key}", value, PRINCIPAL_TYPES)
        if self.default.id and not self.default.type:
            errors.append("default.type: required when default.id is set")
        return errors
