"""``host:port`` endpoints: one parser for every listener and client in the gateway."""

from __future__ import annotations

import ipaddress

#: what an empty host means when binding (every IPv4 interface, as the Collector does)
ANY_HOST = "0.0.0.0"


def split_endpoint(endpoint: str, path: str = "endpoint") -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6, an optional ``http(s)://``) -> (host, port).

    Raises ValueError whose message starts with ``path``, the config key being read.
    """
    text = endpoint.strip()
    for scheme in ("http://", "https://"):
        if text.startswith(scheme):
            text = text[len(scheme):]
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{path}: expected host:port, got {endpoint!r}")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"{path}: unbalanced brackets in {endpoint!r}")
    return host.strip("[]") or ANY_HOST, int(port)


def endpoint_problem(endpoint: str, path: str = "endpoint") -> str | None:
    """The validation message for a bad endpoint (prefixed with ``path``), else None."""
    try:
        split_endpoint(endpoint, path)
    except ValueError as exc:
        return str(exc)
    return None


def with_port(endpoint: str, port: int) -> str:
    """The same host with another port (``[::1]`` kept bracketed)."""
    host, _ = split_endpoint(endpoint)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; False for names and every other address
    (a name that is not ``localhost`` may resolve to anything)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
