"""``record_id``: a stable id of one tool-call or state-change record, derived from the call.

The same record, seen again (a sender retrying a request the gateway had already taken, a
followed log line read again after a restart, a derived record emitted again), has the same
id, so outputs and counters can tell a repeat from a new record (docs/durability.md). The
id hashes what identifies the record where it came from, never what the gateway added
(caller, cost): a pricing change between two deliveries does not change it.
"""

from __future__ import annotations

import hashlib

from hangar_otelcol.mcp.view import ToolInvocation

#: bytes of the id (128 bits: no two records of a day collide)
SIZE = 16


def record_id(inv: ToolInvocation) -> bytes:
    """The record's id (cached on the view)."""
    cached = inv.record_id
    if cached is not None:
        return cached
    text = "\x1f".join((inv.event, inv.trace_id.hex(), inv.span_id.hex(),
                        str(inv.time_unix_nano), inv.server or "", inv.tool or "",
                        inv.to_state or "", inv.status or ""))
    inv.record_id = value = hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                            digest_size=SIZE).digest()
    return value
