"""health_check: HTTP 200 while every component is up, 503 while starting or stopping."""
