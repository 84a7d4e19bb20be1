"""The mcp_caller processor: writes mcp.caller.{type,id,roles} on every tool invocation."""

from __future__ import annotations

import fnmatch
import math
import time
from collections import OrderedDict
from typing import Any

from hangar_otelcol.auth.jwt import JwtVerifier, TokenRejected
from hangar_otelcol.component import Consumer, ConsumerError, CreateSettings, Host
from hangar_otelcol.mcp import InvocationIndex, ToolInvocation
from hangar_otelcol.mcp.attrs import (
    EncodedAttributes,
    remove_attributes,
    set_attributes,
    set_encoded,
)
from hangar_otelcol.mcp.keys import CALLER_ID, CALLER_ROLES, CALLER_TYPE, IDENTITY_KEYS
from hangar_otelcol.pdata import Part, Principal, Sender, Signal
from hangar_otelcol.processorhelper import InvocationProcessor
from hangar_otelcol.processors.caller.config import CallerConfig
from hangar_otelcol.processors.caller.identity import (
    ATTRIBUTE_KEYS,
    NONE,
    Identity,
    TrustedSenders,
    from_headers,
    from_values,
    join_roles,
    map_type,
    resource_values,
)

_CACHE_SIZE = 4096


#: what a sender may have written about its caller; removed in enforce mode
_FORGEABLE = IDENTITY_KEYS
#: the caller of a record no principal or token vouches for (enforce, on_missing: mark)
UNAUTHENTICATED = Identity(None, "unauthenticated", None, "unauthenticated")


class _PartContext:
    """What ``process`` needs to know about one part, resolved once by ``prepare``.

    ``enforced``: the identity every record of the part gets (enforce mode, a sender that
    is not trusted); None: the sources are read per record (trust mode, trusted senders).
    """

    __slots__ = ("enforced", "fallback", "per_resource", "sender", "tokens")

    def __init__(self, sender: Identity, tokens: dict[str, Identity],
                 enforced: Identity | None = None, fallback: Identity = NONE) -> None:
        self.sender = sender
        self.tokens = tokens
        self.enforced = enforced
        #: a trusted principal's own identity, for its records that name no caller
        self.fallback = fallback
        self.per_resource: dict[int, Identity] = {}


class CallerProcessor(InvocationProcessor):
    def __init__(self, settings: CreateSettings, config: CallerConfig, signal: Signal,
                 next_consumer: Consumer) -> None:
        super().__init__(settings, config.invocations, next_consumer, outcome_label="source",
                         outcome_help="Tool invocations by the source of their identity")
        self._config = config
        self._sources = list(config.sources)
        self._needs_sender = "jwt" in self._sources or "headers" in self._sources
        self._type_map = {k.lower(): v for k, v in config.type_map.items()}
        self._trusted = TrustedSenders(config.headers.trusted_senders)
        self._jwt = JwtVerifier(config.jwt, settings.logger) if config.jwt.enabled else None
        # identity from request metadata, per distinct (peer, metadata): resolved once per
        # sender, not per span; bounded LRU
        # entries: (identity, valid until as unix time; inf if no token expiry applies)
        self._sender_cache: OrderedDict[tuple[Any, ...], tuple[Identity, float]] = \
            OrderedDict()
        self._token_cache: OrderedDict[str, tuple[Identity, float]] = OrderedDict()
        self._encoded: dict[Identity, EncodedAttributes] = {}
        self._static = {k: self._static_identity(v) for k, v in config.static.items()}
        d = config.default
        self._default = Identity(d.type or None, d.id or None, join_roles(d.roles),
                                 "default") if (d.id or d.type) else NONE
        self._rejected = settings.telemetry.counter(
            "otelcol_processor_mcp_caller_jwt_rejected_total",
            "Bearer tokens that did not set identity, by reason", ("reason",))
        self._principals = {k: self._static_identity(v) for k, v in config.principals.items()}
        self._removed = settings.telemetry.counter(
            "otelcol_processor_mcp_caller_removed_total",
            "Sender-written identity attributes removed in enforce mode", ())

    @staticmethod
    def _static_identity(entry: Any) -> Identity:
        return Identity(entry.type or None, entry.id or None, join_roles(entry.roles), "static")

    async def start(self, host: Host) -> None:
        if self._jwt is not None:
            await self._jwt.start()

    async def shutdown(self) -> None:
        if self._jwt is not None:
            await self._jwt.shutdown()

    async def prepare(self, part: Part, invocations: InvocationIndex) -> _PartContext:
        principal = part.sender.principal
        mode = self._config.mode
        if mode == "enforce" or (mode == "auto" and principal is not None):
            if principal is None or not self._trusted_principal(principal):
                return _PartContext(NONE, {}, await self._enforced_identity(part))
            context = await self._trusted_context(part, invocations)
            context.fallback = self._principal_identity(principal)
            return context
        return await self._trusted_context(part, invocations)

    async def _trusted_context(self, part: Part, invocations: InvocationIndex
                               ) -> _PartContext:
        sender = await self._from_sender(part.sender) if self._needs_sender else NONE
        tokens: dict[str, Identity] = {}
        if self._jwt is not None and self._config.jwt.attribute and "jwt" in self._sources:
            for inv in invocations:
                token = self._record_token(inv)
                if token and token not in tokens:
                    tokens[token] = (await self._verify(token))[0]
        return _PartContext(sender, tokens)

    def _trusted_principal(self, principal: Principal) -> bool:
        return any(fnmatch.fnmatchcase(principal.subject, p)
                   or fnmatch.fnmatchcase(principal.name, p)
                   for p in self._config.trusted_principals)

    def _principal_identity(self, principal: Principal) -> Identity:
        """Who an authenticated principal is: its entry in ``principals``, else itself."""
        mapped = self._principals.get(principal.subject) or \
            self._principals.get(principal.name)
        roles = join_roles(list(principal.roles))
        if mapped is not None:
            return Identity(mapped.type or map_type(principal.type, self._type_map)
                            or "service", mapped.id or principal.subject,
                            mapped.roles or roles, "principal")
        return Identity(map_type(principal.type, self._type_map) or "service",
                        principal.subject, roles, "principal")

    async def _enforced_identity(self, part: Part) -> Identity:
        """Enforce mode, a sender that is not trusted: the principal, else a token verified
        here (``jwt`` in ``sources``), else nobody (``on_missing``)."""
        principal = part.sender.principal
        if principal is not None:
            return self._principal_identity(principal)
        if self._jwt is not None and "jwt" in self._sources:
            token = _bearer(part.sender.metadata.get(self._config.jwt.header))
            if token:
                identity = (await self._verify(token))[0]
                if identity.id:
                    return identity
        if self._config.on_missing == "refuse":
            raise ConsumerError(f"{self.settings.id}: the request proves no caller (no "
                                "authenticated principal, no valid token); refused",
                                permanent=True)
        return UNAUTHENTICATED

    def process(self, inv: ToolInvocation, context: _PartContext) -> str:
        enforced = context.enforced
        if enforced is not None:
            removed = remove_attributes(inv, _FORGEABLE)
            if removed:
                self._removed.inc(amount=removed)
                inv.caller_type = inv.caller_id = inv.caller_roles = None
            identity = self._enrich(enforced)
            self._write(inv, identity)
            return identity.source
        identity = NONE
        for source in self._sources:
            if source == "attributes":
                identity = self._from_attributes(inv, context.per_resource)
            elif source == "jwt" or source == "headers":
                identity = context.sender if context.sender.source == source else NONE
                if source == "jwt" and identity is NONE and context.tokens:
                    identity = context.tokens.get(self._record_token(inv), NONE)
            elif source == "static":
                identity = self._static_for(inv)
            if identity.id:
                break
        if not identity.id and context.fallback is not NONE:
            identity = context.fallback
        if not identity.id:
            identity = self._default if self._default is not NONE else identity
        identity = self._enrich(identity)
        if identity.id or identity.type:
            self._write(inv, identity)
        return identity.source or "none"

    # --- sources ---------------------------------------------------------------------

    def _from_attributes(self, inv: ToolInvocation, per_resource: dict[int, Identity]
                         ) -> Identity:
        positions = inv.attr_index
        if positions:
            attrs = inv.record.attributes
            values: dict[str, Any] = {}
            for key in ATTRIBUTE_KEYS:
                pos = positions.get(key)
                if pos is not None and pos < len(attrs) and attrs[pos].key == key:
                    v = attrs[pos].value
                    if v.HasField("array_value"):
                        values[key] = [x.string_value for x in v.array_value.values]
                    else:
                        which = v.WhichOneof("value")
                        values[key] = getattr(v, which) if which else None
            if values:
                found = from_values(values, self._type_map, "attributes")
                if found.id:
                    return found
        if inv.resource is None:
            return NONE
        rid = id(inv.resource)
        cached = per_resource.get(rid)
        if cached is not None:
            return cached
        values = resource_values(inv.resource)
        found = from_values(values, self._type_map, "resource") if values else NONE
        per_resource[rid] = found
        return found

    async def _from_sender(self, sender: Sender) -> Identity:
        """JWT from request metadata, else trusted identity headers (cached per sender)."""
        meta = sender.metadata
        key = (sender.peer, tuple(sorted(meta.items()))) if meta else (sender.peer,)
        cached = self._sender_cache.get(key)
        if cached is not None and cached[1] > time.time():
            self._sender_cache.move_to_end(key)
            return cached[0]
        identity, until = NONE, math.inf
        for source in self._sources:
            if source == "jwt" and self._jwt is not None:
                token = _bearer(meta.get(self._config.jwt.header))
                if token:
                    identity, until = await self._verify(token)
            elif source == "headers" and meta and sender.peer in self._trusted:
                identity = from_headers(meta, self._config.headers, self._type_map)
            if identity.id:
                break
        self._remember(self._sender_cache, key, (identity, until))
        return identity

    def _record_token(self, inv: ToolInvocation) -> str:
        name = self._config.jwt.attribute
        for kv in inv.record.attributes:
            if kv.key == name:
                return _bearer(kv.value.string_value)
        return ""

    async def _verify(self, token: str) -> tuple[Identity, float]:
        """Identity of a token and until when that answer holds (its exp plus leeway)."""
        cached = self._token_cache.get(token)
        if cached is not None and cached[1] > time.time():
            return cached
        assert self._jwt is not None
        try:
            claims = await self._jwt.verify(token)
        except TokenRejected as exc:
            self._rejected.inc(exc.reason)
            self.problems.warn("bad_token", "%s: bearer token rejected (%s): %s; identity not "
                               "set (every rejection is counted in "
                               "otelcol_processor_mcp_caller_jwt_rejected_total)",
                               self.settings.id, exc.reason, exc, detail=exc.reason)
            # a rejection is remembered briefly so a flood of one bad token costs one check
            # per second, and nbf tokens become valid soon enough
            result = (NONE, time.time() + 1.0)
            self._remember(self._token_cache, token, result)
            return result
        identity = self._from_claims(claims)
        exp = claims.get("exp")
        until = float(exp) + float(self._config.jwt.leeway) if isinstance(
            exp, (int, float)) else math.inf
        self._remember(self._token_cache, token, (identity, until))
        return identity, until

    def _from_claims(self, claims: dict[str, Any]) -> Identity:
        c = self._config.jwt.claims
        caller_id = next((claims[k] for k in c.id if claims.get(k)), None)
        if not isinstance(caller_id, (str, int)) or caller_id == "":
            return NONE
        raw_type = next((claims[k] for k in c.type if claims.get(k)), None)
        ctype = map_type(raw_type if isinstance(raw_type, str) else None, self._type_map)
        roles = next((join_roles(claims[k]) for k in c.roles if claims.get(k)), None)
        return Identity(ctype or self._config.jwt.default_type, str(caller_id), roles, "jwt")

    def _static_for(self, inv: ToolInvocation) -> Identity:
        if inv.service_name and inv.service_name in self._static:
            entry = self._static[inv.service_name]
            return Identity(entry.type or "service", entry.id or inv.service_name,
                            entry.roles, "static")
        return NONE

    def _enrich(self, identity: Identity) -> Identity:
        """The static map fills in type and roles for a known caller id."""
        if identity.id and identity.id in self._static and (
                not identity.type or not identity.roles):
            entry = self._static[identity.id]
            return Identity(identity.type or entry.type, identity.id,
                            identity.roles or entry.roles, identity.source)
        return identity

    @staticmethod
    def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        cache[key] = value
        if len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)

    # --- output ----------------------------------------------------------------------

    def _write(self, inv: ToolInvocation, identity: Identity) -> None:
        if inv.caller_type is None and inv.caller_id is None and inv.caller_roles is None:
            # the usual case: nothing to compare with, and the same identity is written on
            # every call of a request: encode its attributes once
            encoded = self._encoded.get(identity)
            if encoded is None:
                if len(self._encoded) >= _CACHE_SIZE:
                    self._encoded.clear()
                encoded = self._encoded[identity] = EncodedAttributes(
                    self._values(inv, identity))
            if encoded.keys:
                set_encoded(inv, encoded)
            inv.caller_type = identity.type
            inv.caller_id = identity.id
            inv.caller_roles = identity.roles
            return
        values = self._values(inv, identity)
        if values:
            set_attributes(inv, values)
        inv.caller_type = identity.type or inv.caller_type
        inv.caller_id = identity.id or inv.caller_id
        inv.caller_roles = identity.roles or inv.caller_roles

    def _values(self, inv: ToolInvocation, identity: Identity) -> dict[str, str]:
        values: dict[str, str] = {}
        if identity.type and identity.type != inv.caller_type:
            values[CALLER_TYPE] = identity.type
        if identity.id and identity.id != inv.caller_id:
            values[CALLER_ID] = identity.id
        if identity.roles and identity.roles != inv.caller_roles:
            values[CALLER_ROLES] = identity.roles
        if self._config.semconv:
            if identity.id:
                values["enduser.id"] = identity.id
            if identity.roles:
                values["user.roles"] = identity.roles
        return values


def _bearer(value: str | None) -> str:
    if not value:
        return ""
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip()
    return "" if " " in value else value


def create(settings: CreateSettings, config: CallerConfig, signal: Signal,
           next_consumer: Consumer) -> CallerProcessor:
    return CallerProcessor(settings, config, signal, next_consumer)
