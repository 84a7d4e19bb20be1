"""Helpers for tests of components and of whole gateways (used by tests/ and bench/)."""

from __future__ import annotations

import asyncio
import random
import socket

from hangar_otelcol.component import ComponentID, CreateSettings, Kind
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.telemetry import Telemetry

_HANDED_OUT: set[int] = set()
_RANDOM = random.Random()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago and that this process has not
    handed out before.

    Chosen below the kernel's ephemeral range, so the outgoing connections of other tests
    (which get ephemeral local ports) cannot take it between this call and the bind; and
    never twice per process, so two endpoints of one test cannot get the same port.
    """
    low = _ephemeral_low()
    for _ in range(200):
        port = _RANDOM.randrange(10_000, low) if low > 11_000 else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = int(s.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no fresh free port after 200 tries")


def make_settings(kind: Kind, component_id: str, telemetry: Telemetry | None = None,
                  pipeline: str = "") -> CreateSettings:
    return CreateSettings.for_component(telemetry or Telemetry(), kind,
                                        ComponentID.parse(component_id), pipeline)


class CollectingConsumer:
    """A consumer that keeps what it gets (for tests). Not mutating."""

    mutates_data = False

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self._event = asyncio.Event()

    async def consume(self, batch: Batch) -> None:
        self.batches.append(batch)
        self._event.set()

    def items(self, signal: Signal | None = None) -> int:
        return sum(b.item_count for b in self.batches if signal is None or b.signal == signal)

    async def wait_for_items(self, n: int, timeout: float = 10.0) -> None:
        async def _wait() -> None:
            while self.items() < n:
                self._event.clear()
                await self._event.wait()
        await asyncio.wait_for(_wait(), timeout)
