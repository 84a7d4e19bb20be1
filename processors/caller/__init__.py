"""The ``mcp_caller`` processor: attaches caller identity (mcp.caller.*) to tool invocations."""
