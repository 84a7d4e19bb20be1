"""mcp_metrics: the tool-call and cost series as OTLP metrics, pushed to backends."""
