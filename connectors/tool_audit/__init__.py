"""tool_audit connector: tool-invocation spans -> hangar-style audit log records."""
