"""memory_limiter: refuses data (retryably) while the process uses too much memory."""
