"""Run real gateway processes (``python -m hangar_otelcol``) and a real OTLP sink for
end-to-end tests. Everything listens on 127.0.0.1 with free ports."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from hangar_otelcol.testing import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Gateway:
    """A running gateway subprocess."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    config_path: Path
    stderr_path: Path

    def stop(self, timeout: float = 30) -> int:
        return terminate(self.process, timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def terminate(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM, wait for the exit code; SIGKILL (and re-raise) if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        raise


def wait_healthy(port: int, process: subprocess.Popen[bytes], stderr: Path,
                 timeout: float = 20) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}:\n"
                               f"{stderr.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"gateway not healthy after {timeout}s:\n{stderr.read_text()}")


@contextmanager
def run_gateway(tmp_path: Path, config: str, name: str = "gw",
                env: dict[str, str] | None = None, extra_args: list[str] | None = None
                ) -> Iterator[Gateway]:
    """Start a gateway; ``config`` may use {grpc}, {http}, {health}, {metrics}, {prom}
    placeholders, replaced by free ports. Stops it with SIGTERM and checks exit 0."""
    ports = {k: free_port() for k in ("grpc", "http", "health", "metrics", "prom")}
    text = config
    for key, port in ports.items():
        text = text.replace("{" + key + "}", str(port))
    config_path = tmp_path / f"{name}.yaml"
    config_path.write_text(text)
    stderr_path = tmp_path / f"{name}.stderr"
    proc_env = {**os.environ, **(env or {})}
    with stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "hangar_otelcol", "--config", str(config_path),
             *(extra_args or [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=proc_env,
            cwd=REPO)
    gateway = Gateway(process, ports, config_path, stderr_path)
    try:
        wait_healthy(ports["health"], process, stderr_path)
        yield gateway
    finally:
        code = gateway.stop()
        assert code == 0, f"gateway {name} exited with {code}:\n{gateway.stderr()}"


@dataclass
class Sink:
    """A real grpc.aio OTLP server that keeps every request's raw bytes."""

    port: int
    requests: dict[str, list[bytes]] = field(default_factory=lambda: {
        "traces": [], "logs": [], "metrics": []})
    server: grpc.aio.Server | None = None

    async def start(self) -> None:
        services = {"traces": "opentelemetry.proto.collector.trace.v1.TraceService",
                    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
                    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService"}
        handlers = []
        for signal_name, service in services.items():
            def make(sig: str) -> grpc.RpcMethodHandler:
                async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
                    self.requests[sig].append(request)
                    return b""
                return grpc.unary_unary_rpc_method_handler(export)
            handlers.append(grpc.method_handlers_generic_handler(
                service, {"Export": make(signal_name)}))
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers(handlers)
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)

    async def wait_for(self, signal_name: str, count_items: int, timeout: float = 20) -> None:
        from hangar_otelcol.pdata import Signal, decode

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            total = sum(decode(Signal(signal_name), r).item_count
                        for r in self.requests[signal_name])
            if total >= count_items:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"sink got {self.requests[signal_name]!r:.200} for {signal_name}")
