"""The ``mcp_cost`` processor: prices tool invocations with hangar's cost rules."""
