"""Identity values and the sources that do not need I/O (attributes, headers, static map)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hangar_otelcol.mcp.keys import IDENTITY_KEYS
from hangar_otelcol.processors.caller.config import HeadersConfig

# keys read from a record or its resource, in order of preference for the id
USER_KEYS = ("mcp.user.id", "enduser.id", "user.id")
AGENT_KEY = "mcp.agent.id"
ROLES_KEYS = ("user.roles",)


@dataclass(frozen=True, slots=True)
class Identity:
    type: str | None = None
    id: str | None = None
    roles: str | None = None
    source: str = ""


NONE = Identity()


def join_roles(value: Any) -> str | None:
    """Roles as hangar writes them: comma-joined, no spaces (``admin,mcp_servers:read``)."""
    if value is None:
        return None
    if isinstance(value, str):
        parts: Iterable[Any] = value.replace(",", " ").split()
    elif isinstance(value, (list, tuple)):
        parts = value
    else:
        return None
    roles = [str(p).strip() for p in parts if str(p).strip()]
    return ",".join(dict.fromkeys(roles)) or None  # keep order, drop duplicates


def map_type(raw: str | None, type_map: Mapping[str, str]) -> str | None:
    """hangar's user/service/anonymous (and others) -> human/agent/service; unknown -> None."""
    if not raw:
        return None
    return type_map.get(raw.strip().lower())


def from_values(values: Mapping[str, Any], type_map: Mapping[str, str], source: str
                ) -> Identity:
    """Identity from attribute values (a record's or a resource's)."""
    raw_type = values.get("mcp.caller.type")
    caller_id = values.get("mcp.caller.id")
    id_type = None
    if not caller_id:
        for key in USER_KEYS:
            if values.get(key):
                caller_id, id_type = values[key], "human"
                break
        else:
            if values.get(AGENT_KEY):
                caller_id, id_type = values[AGENT_KEY], "agent"
    roles = join_roles(values.get("mcp.caller.roles") or values.get("user.roles"))
    if raw_type == "anonymous" and not caller_id:
        return NONE
    ctype = map_type(raw_type, type_map) or (id_type if caller_id else None)
    if not caller_id and not ctype:
        return NONE
    return Identity(ctype, str(caller_id) if caller_id else None, roles, source)


#: the invocation index keeps the positions of exactly these keys (a test checks that
#: USER_KEYS, AGENT_KEY, ROLES_KEYS and the mcp.caller.* keys are all in it)
ATTRIBUTE_KEYS = IDENTITY_KEYS


def resource_values(resource: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in resource.attributes:
        if kv.key in ATTRIBUTE_KEYS:
            v = kv.value
            which = v.WhichOneof("value")
            if which == "array_value":
                out[kv.key] = [x.string_value for x in v.array_value.values]
            elif which:
                out[kv.key] = getattr(v, which)
    return out


class TrustedSenders:
    def __init__(self, cidrs: Iterable[str]) -> None:
        self._nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        self._cache: dict[str, bool] = {}

    def __contains__(self, peer: str) -> bool:
        hit = self._cache.get(peer)
        if hit is None:
            try:
                addr = ipaddress.ip_address(peer.strip("[]"))
                if addr.version == 6 and addr.ipv4_mapped is not None:
                    addr = addr.ipv4_mapped
                hit = any(addr in net for net in self._nets)
            except ValueError:
                hit = False
            if len(self._cache) < 10_000:
                self._cache[peer] = hit
        return hit


def from_headers(metadata: Mapping[str, str], config: HeadersConfig,
                 type_map: Mapping[str, str]) -> Identity:
    """hangar's HeaderIdentityExtractor rules: user and service principals need a user id."""
    user = (metadata.get(config.user_id) or "").strip()
    agent = (metadata.get(config.agent_id) or "").strip()
    raw_type = (metadata.get(config.principal_type) or "").strip().lower()
    roles = join_roles(metadata.get(config.roles)) if config.roles else None
    if user:
        ctype = map_type(raw_type, type_map) if raw_type not in ("", "anonymous") else "human"
        return Identity(ctype or "human", user, roles, "headers")
    if agent:
        return Identity("agent", agent, roles, "headers")
    return NONE
