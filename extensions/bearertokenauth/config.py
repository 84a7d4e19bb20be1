"""Config of the ``bearertokenauth`` extension, and reading its token file.

Tokens come from three places, all accepted at once:

- ``token``: one token, for the principal ``principal`` (default: the extension id's name,
  ``bearertokenauth/hangar-prod`` -> ``hangar-prod``; without a name, ``bearertokenauth``),
  with ``type`` and ``roles``;
- ``tokens``: a list whose items are a token (a string: the same principal as ``token``,
  e.g. the old and the new token while rotating) or a mapping
  ``{token, principal, type, roles}`` (a missing ``principal``, ``type`` or ``roles`` takes
  the top-level one);
- ``filename``: a YAML (or JSON) file holding a list of the same items, reloaded when it
  changes (see below). A file that is not a list (a single line, the Collector's format)
  holds one token: its whole text, without surrounding white space.

Example file::

    - token: 3q2+7w...          # mapping: this token's principal, type and roles
      principal: hangar-prod
      type: service
      roles: [forwarder]
    - k9Jf0a...                 # string: the top-level principal, type and roles

Every token must be non-empty and unique across all three; errors name where the token is
(``tokens[2].token: duplicate of tokens[0]``), never its value. Write tokens through
``${env:VAR}`` or ``${file:PATH}`` rather than into the config itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from hangar_otelcol.auth import PRINCIPAL_TYPES
from hangar_otelcol.config.types import Duration, choice_errors

_ENTRY_KEYS = ("token", "principal", "type", "roles")


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """One accepted token, as configured; empty ``principal``: the extension's default."""

    token: str
    principal: str
    type: str
    roles: tuple[str, ...]
    #: where it was configured (``tokens[2]``, ``/etc/tokens.yaml[0]``), for messages
    where: str
    #: it came from ``filename``
    in_file: bool = False
    #: the token's own path (``tokens[2].token`` in a mapping, else ``where``)
    key: str = ""


@dataclass
class BearerTokenAuthConfig:
    #: the authentication scheme before the token (``authorization: Bearer <token>``),
    #: matched case-insensitively; empty: the header's whole value is the token
    #: (``x-api-key: <token>``)
    scheme: str = "Bearer"
    #: the HTTP header / gRPC metadata key holding it (case-insensitive)
    header: str = "authorization"
    #: a single token (``${env:VAR}`` or ``${file:PATH}``)
    token: Any = ""
    #: the principal of ``token`` and of plain string items; empty: the extension id's name
    principal: str = ""
    #: its type: human | agent | service
    type: str = "service"
    #: its roles
    roles: list[str] = field(default_factory=list)
    #: more tokens: strings, or mappings ``{token, principal, type, roles}``
    tokens: list[Any] = field(default_factory=list)
    #: a YAML/JSON file with a list of the same items (or one token), reloaded on change
    filename: str = ""
    #: how often the file is checked for a change (its size and modification time), on a
    #: request; 0: on every request
    reload_interval: Duration = Duration(1.0)

    def validate(self) -> list[str]:
        errors: list[str] = []
        if any(c.isspace() for c in self.scheme):
            errors.append(f"scheme: must be one word, got {self.scheme!r}")
        if not self.header.strip() or any(c.isspace() for c in self.header.strip()):
            errors.append("header: must be a header name such as authorization")
        errors += choice_errors("type", self.type, PRINCIPAL_TYPES)
        specs = self.specs(errors)
        if self.filename:
            if not os.path.isfile(self.filename):
                errors.append(f"filename: {self.filename} does not exist or is not a file")
            else:
                specs += read_token_file(self.filename, self, errors)
        elif not specs:
            errors.append("token: no token configured (set token, tokens or filename)")
        duplicates(specs, errors)
        return errors

    def specs(self, errors: list[str]) -> list[TokenSpec]:
        """The tokens of ``token`` and ``tokens`` (not the file's)."""
        specs: list[TokenSpec] = []
        if self.token not in ("", None):
            token = _secret(self.token, "token", errors)
            if token is not None:
                specs.append(TokenSpec(token, self.principal, self.type, tuple(self.roles),
                                       "token", key="token"))
        for i, raw in enumerate(self.tokens):
            spec = parse_entry(raw, f"tokens[{i}]", self, errors)
            if spec is not None:
                specs.append(spec)
        return specs


def parse_entry(raw: Any, where: str, defaults: BearerTokenAuthConfig,
                errors: list[str], in_file: bool = False) -> TokenSpec | None:
    """One item of ``tokens`` or of the file; problems go to ``errors`` (never the token)."""
    if not isinstance(raw, dict):
        token = _secret(raw, where, errors)
        if token is None:
            return None
        return TokenSpec(token, defaults.principal, defaults.type, tuple(defaults.roles), where,
                         in_file, where)
    unknown = sorted(str(k) for k in raw if k not in _ENTRY_KEYS)
    if unknown:
        errors.append(f"{where}: unknown key {', '.join(unknown)} "
                      f"(known keys: {', '.join(_ENTRY_KEYS)})")
    if raw.get("token") in ("", None):
        errors.append(f"{where}.token: required, and must not be empty")
        return None
    token = _secret(raw["token"], f"{where}.token", errors)
    principal = raw.get("principal", defaults.principal)
    if not isinstance(principal, str) or (not principal and "principal" in raw):
        errors.append(f"{where}.principal: must be a non-empty string")
        principal = ""
    type_ = raw.get("type", defaults.type)
    errors += choice_errors(f"{where}.type", type_, PRINCIPAL_TYPES)
    roles = raw.get("roles", defaults.roles)
    if roles is None:
        roles = []
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        errors.append(f"{where}.roles: must be a list of role names")
        roles = []
    if token is None:
        return None
    return TokenSpec(token, principal, str(type_), tuple(roles), where, in_file,
                     f"{where}.token")


def _secret(raw: Any, where: str, errors: list[str]) -> str | None:
    """A token from YAML: a string; anything else is refused without showing it. A number
    is refused too: YAML reads ``0123`` as 83 and ``0x1f`` as 31, so the token in effect
    would not be the one written (quote it, or put it in ``filename``)."""
    if not isinstance(raw, str):
        errors.append(f"{where}: a token must be a string (quote it in YAML)")
        return None
    token = raw.strip()
    if not token:
        errors.append(f"{where}: must not be empty")
        return None
    if any(c.isspace() for c in token):
        errors.append(f"{where}: must not contain white space")
        return None
    return token


def read_token_file(path: str, defaults: BearerTokenAuthConfig,
                    errors: list[str]) -> list[TokenSpec]:
    """The tokens of the file ``path``; problems go to ``errors`` as ``filename: ...``."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"filename: cannot read {path}: "
                      f"{getattr(exc, 'strerror', None) or type(exc).__name__}")
        return []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None  # not YAML: one token (the YAML error could quote it, so it is not shown)
        if "\n" in text.strip():
            errors.append(f"filename: {path} is neither a YAML list nor one token")
            return []
    file_errors: list[str] = []
    specs: list[TokenSpec] = []
    if isinstance(data, list):
        for i, raw in enumerate(data):
            spec = parse_entry(raw, f"{path}[{i}]", defaults, file_errors, in_file=True)
            if spec is not None:
                specs.append(spec)
    elif isinstance(data, dict):
        file_errors.append(f"{path}: expected a list of tokens, got a mapping")
    else:  # one token, the file's whole text
        spec = parse_entry(text, path, defaults, file_errors, in_file=True)
        if spec is not None:
            specs.append(spec)
    if not specs and not file_errors:
        file_errors.append(f"{path}: holds no token")
    errors += [f"filename: {e}" for e in file_errors]
    return specs


def duplicates(specs: list[TokenSpec], errors: list[str]) -> None:
    """Append ``<where>.token: duplicate of <where>`` for every token configured twice."""
    first: dict[str, str] = {}
    for spec in specs:
        seen = first.get(spec.token)
        if seen is None:
            first[spec.token] = spec.where
            continue
        errors.append(f"{'filename: ' if spec.in_file else ''}{spec.key or spec.where}: "
                      f"duplicate of {seen}")
