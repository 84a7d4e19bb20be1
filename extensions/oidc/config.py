"""Config of the ``oidc`` extension."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hangar_otelcol.auth import PRINCIPAL_TYPES
from hangar_otelcol.auth.jwt import ASYM_ALGS, validate_algorithms, validate_url
from hangar_otelcol.config.types import Duration, choice_errors


@dataclass
class OidcConfig:
    #: the issuer: tokens' ``iss`` must equal it; without jwks_url / jwks_file, the JWKS is
    #: found at start through ``{issuer_url}/.well-known/openid-configuration`` (jwks_uri)
    issuer_url: str = ""
    #: required: the ``aud`` a token must carry (one value, or a list: any of them)
    audience: str | list[str] = ""
    #: the issuer's keys, from an URL or a file (instead of discovery)
    jwks_url: str = ""
    jwks_file: str = ""
    #: how often the JWKS is fetched again, and at most how often on an unknown kid (key
    #: rotation)
    jwks_refresh: Duration = Duration(300.0)
    jwks_min_refresh: Duration = Duration(30.0)
    #: timeout of the discovery request and of each JWKS fetch
    jwks_timeout: Duration = Duration(5.0)
    #: required: accepted signature algorithms (RS*, PS*, ES*, EdDSA), never taken from the
    #: token; ``none`` and HS* are never accepted
    algorithms: list[str] = field(default_factory=list)
    #: clock skew allowed on exp / nbf / iat
    leeway: Duration = Duration(0.0)
    #: claims a token must have besides exp (always required)
    required_claims: list[str] = field(default_factory=list)
    #: the claim that is the principal's subject
    username_claim: str = "sub"
    #: the claim holding the principal's roles (a list, or a space-separated string)
    groups_claim: str = "groups"
    #: the claim holding the principal's type (human | agent | service, or a type that
    #: mcp_caller's type_map knows); empty or absent: default_type
    type_claim: str = ""
    default_type: str = "human"
    #: request metadata key (HTTP header / gRPC metadata, lower case) holding
    #: ``Bearer <token>``
    header: str = "authorization"

    @property
    def audiences(self) -> list[str]:
        return [self.audience] if isinstance(self.audience, str) else list(self.audience)

    def validate(self) -> list[str]:
        errors: list[str] = []
        if not (self.issuer_url or self.jwks_url or self.jwks_file):
            errors.append("issuer_url: required (or jwks_url / jwks_file with the issuer's "
                          "keys)")
        if self.issuer_url:
            errors += validate_url("issuer_url", self.issuer_url)
        if self.jwks_url:
            errors += validate_url("jwks_url", self.jwks_url)
        if self.jwks_url and self.jwks_file:
            errors.append("jwks_file: set only one of jwks_url and jwks_file")
        if self.jwks_file and not os.path.isfile(self.jwks_file):
            errors.append(f"jwks_file: no such file: {self.jwks_file}")
        if not [a for a in self.audiences if a]:
            errors.append("audience: required (the client id the tokens are issued for)")
        errors += validate_algorithms(self.algorithms, ASYM_ALGS)
        if not self.username_claim:
            errors.append("username_claim: must not be empty")
        errors += choice_errors("default_type", self.default_type, PRINCIPAL_TYPES)
        if not self.header:
            errors.append("header: must not be empty")
        if self.jwks_refresh <= 0:
            errors.append("jwks_refresh: must be greater than 0")
        if self.jwks_timeout <= 0:
            errors.append("jwks_timeout: must be greater than 0")
        return errors
