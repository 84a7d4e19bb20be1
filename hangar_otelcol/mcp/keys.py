"""What makes a record a tool invocation, and the attribute keys the gateway writes."""

from __future__ import annotations

from dataclasses import dataclass, field

TOOL_EVENT = "tool_invocation"
STATE_EVENT = "mcp_server_state_change"


@dataclass
class InvocationKeys:
    """What makes a record a tool invocation, and where each field is read from.

    Embedded as ``invocations:`` in the config of every component that reads
    invocations; the defaults match hangar 1.1-2.x and the GenAI conventions.
    """

    span_operation_key: str = "gen_ai.operation.name"
    span_operation_values: list[str] = field(default_factory=lambda: ["execute_tool"])
    span_name_prefixes: list[str] = field(default_factory=lambda: ["batch.call."])
    event_name_key: str = "mcp.event.name"
    tool_event: str = TOOL_EVENT
    state_event: str = STATE_EVENT
    tool_keys: list[str] = field(default_factory=lambda: ["gen_ai.tool.name", "mcp.tool.name"])
    server_keys: list[str] = field(default_factory=lambda: ["mcp.server.id"])
    input_token_keys: list[str] = field(
        default_factory=lambda: [
            "gen_ai.usage.input_tokens", "mcp.cost.input_tokens", "gen_ai.usage.prompt_tokens"
        ]
    )
    output_token_keys: list[str] = field(
        default_factory=lambda: [
            "gen_ai.usage.output_tokens", "mcp.cost.output_tokens",
            "gen_ai.usage.completion_tokens",
        ]
    )
    duration_keys: list[str] = field(default_factory=lambda: ["mcp.tool.duration_ms"])
    status_keys: list[str] = field(default_factory=lambda: ["mcp.tool.status"])
    error_type_keys: list[str] = field(default_factory=lambda: ["mcp.error.type", "error.type"])
    state_key: str = "mcp.server.state"
    previous_state_key: str = "mcp.server.previous_state"
    #: ``execute_tool`` spans from these instrumentation scopes (prefix match) are not
    #: counted: hangar 1.6+ emits its CLIENT ``execute_tool <tool>`` span inside the
    #: ``batch.call.<tool>`` span of the same call, which is the one that counts.
    nested_span_scopes: list[str] = field(default_factory=lambda: ["mcp_hangar."])
    #: tools whose spans wrap other calls (hangar's ``hangar_call`` batch meta-tool: the MCP
    #: SDK's ``tools/call hangar_call`` SERVER span holds one ``batch.call.*`` per real call).
    #: Such spans get caller identity but are neither priced nor counted.
    wrapper_tools: list[str] = field(default_factory=lambda: ["hangar_call"])
    #: attribute that marks an audit record the gateway derived from a span (value ``span``)
    audit_source_key: str = "mcp.audit.source"

    def markers(self) -> tuple[bytes, ...]:
        """Byte strings one of which must occur in a part holding an invocation."""
        values = [*self.span_operation_values, *self.span_name_prefixes,
                  self.tool_event, self.state_event]
        return tuple(v.encode() for v in values if v)


DEFAULT_KEYS = InvocationKeys()

# caller/cost keys that processors write and exporters read back
CALLER_TYPE = "mcp.caller.type"
CALLER_ID = "mcp.caller.id"
CALLER_ROLES = "mcp.caller.roles"
COST_CENTS = "mcp.cost.cents"
COST_MODEL = "mcp.cost.model"
COST_CURRENCY = "mcp.cost.currency"
COST_INPUT_TOKENS = "mcp.cost.input_tokens"
COST_OUTPUT_TOKENS = "mcp.cost.output_tokens"
#: why a call is not priced although a rule would price it (a number on the record is not
#: usable, or the cost would be out of range): ``invalid_number: gen_ai.usage.input_tokens:
#: not a number: '²'`` (docs/architecture.md, "Bad records")
COST_ERROR = "mcp.cost.error"
#: record attributes the caller processor takes identity from (read by position, so the
#: index keeps their positions)
IDENTITY_KEYS = frozenset({CALLER_TYPE, CALLER_ID, CALLER_ROLES, "mcp.user.id", "enduser.id",
                           "user.id", "mcp.agent.id", "user.roles"})
#: keys processors overwrite in place or read by position: the reader keeps their
#: positions (``ToolInvocation.attr_index``)
POSITIONAL_KEYS = frozenset({COST_CENTS, COST_MODEL, COST_CURRENCY, COST_INPUT_TOKENS,
                             COST_OUTPUT_TOKENS, COST_ERROR, *IDENTITY_KEYS})
#: value of ``InvocationKeys.audit_source_key`` on audit records derived from spans
AUDIT_SOURCE_SPAN = "span"
