"""MCP tool calls in OTLP data: the ONE place that knows hangar's and GenAI's keys.

- ``keys``: which attributes make a record a tool invocation and where each field is read
  from (``InvocationKeys``), and the ``mcp.caller.*`` / ``mcp.cost.*`` keys processors write;
- ``view``: ``ToolInvocation``, the read view of one span or log record;
- ``reader``: ``index(part, keys)``, every invocation of a part, read once and cached on
  the part; no side effects;
- ``attrs``: writing attributes back (pre-encoded wire bytes appended to the record);
- ``claims``: ``CallKey``, what identifies one call when it is counted once (the ledger,
  ``hangar_otelcol.ledger``, pairs audit records and spans by it).
"""

from hangar_otelcol.mcp.claims import CallKey, call_key
from hangar_otelcol.mcp.keys import (
    DEFAULT_KEYS,
    STATE_EVENT,
    TOOL_EVENT,
    InvocationKeys,
)
from hangar_otelcol.mcp.reader import count_policy, index
from hangar_otelcol.mcp.view import InvocationIndex, ToolInvocation

__all__ = ["DEFAULT_KEYS", "STATE_EVENT", "TOOL_EVENT", "CallKey", "InvocationIndex",
           "InvocationKeys", "ToolInvocation", "call_key", "count_policy", "index"]
