"""Compliance export: one SIEM record per tool invocation and MCP server state change.

Formats (JSON-lines, LEEF 2.0, RFC 5424 syslog, CEF) are pure functions in
``formats/``; outputs (stderr/stdout, files, syslog over UDP/TCP/TLS) live in
``outputs/``; ``api.export_tool_invocation`` lets other programs use the
formatters without running a gateway. See docs/compliance-formats.md.
"""
