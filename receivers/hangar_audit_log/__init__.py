"""hangar_audit_log receiver: hangar's structured log lines (file or stdin) -> OTLP logs."""
