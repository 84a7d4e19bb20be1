"""Helpers for tests of components and of whole gateways (used by tests/ and bench/)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from hangar_otelcol.component import ComponentID, CreateSettings, Kind
from hangar_otelcol.ledger import CAPABILITY as LEDGER
from hangar_otelcol.ledger.memory import MemoryLedger
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


def terminate(process: subprocess.Popen[bytes], timeout: float = 30, *,
              strict: bool = True) -> int:
    """SIGTERM (the gateway's graceful stop), then the exit code; after ``timeout`` SIGKILL,
    and with ``strict`` re-raise the timeout (a test must not pass on a hung process)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        if strict:
            raise
        return process.returncode


#: the AnyValue field that holds each Python type (bool first: True is an int too)
_ANY_VALUE_FIELDS: tuple[tuple[type, str], ...] = (
    (bool, "bool_value"), (int, "int_value"), (float, "double_value"),
    (bytes, "bytes_value"), (str, "string_value"))


def key_value(key: str, value: bool | int | float | bytes | str) -> KeyValue:
    """An OTLP attribute holding ``value`` in the AnyValue field of its type."""
    for kind, field in _ANY_VALUE_FIELDS:
        if isinstance(value, kind):
            kv = KeyValue(key=key)
            setattr(kv.value, field, value)
            return kv
    raise TypeError(f"no AnyValue field holds a {type(value).__name__}")


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


class RefusingConsumer:
    """A consumer that raises ``error`` (for tests of what happens downstream of a
    refusal or a bug): on every call, or only on call number ``on_call``. Not mutating."""

    mutates_data = False

    def __init__(self, error: Exception, on_call: int = 0) -> None:
        self.error = error
        self.on_call = on_call
        self.calls = 0

    async def consume(self, batch: Batch) -> None:
        self.calls += 1
        if not self.on_call or self.calls == self.on_call:
            raise self.error


class StandaloneHost:
    """A Host for components started outside a service: named extensions, and one
    in-process ledger as the default (what ``service._Host`` provides)."""

    def __init__(self, extensions: Mapping[str, Any] | None = None,
                 ledger: MemoryLedger | None = None) -> None:
        self.extensions = {ComponentID.parse(k): v for k, v in (extensions or {}).items()}
        self.ledger = ledger if ledger is not None else MemoryLedger()
        self.ready = True
        self.statuses: dict[str, tuple[bool, str]] = {}

    def extension(self, component_id: ComponentID | str) -> Any:
        cid = component_id if isinstance(component_id, ComponentID) else \
            ComponentID.parse(component_id)
        return self.extensions.get(cid)

    def default_extension(self, capability: str) -> Any:
        return self.ledger if capability == LEDGER else None

    def report_status(self, component_id: ComponentID, kind: Kind, ok: bool, message: str
                      ) -> None:
        self.statuses[f"{kind.value}/{component_id}"] = (ok, message)

    def component_statuses(self) -> Mapping[str, tuple[bool, str]]:
        return dict(self.statuses)


@contextlib.asynccontextmanager
async def started(component: Any, host: Any = None) -> AsyncIterator[Any]:
    """``component`` started (on a ``StandaloneHost`` unless ``host`` is given) for the
    block, and shut down when the block ends, also after a failure."""
    await component.start(host if host is not None else StandaloneHost())
    try:
        yield component
    finally:
        await component.shutdown()


async def deliver(exporter: Any, *batches: Batch, until: Callable[[], Awaitable[object]]
                  ) -> None:
    """Start ``exporter``, hand it ``batches`` and wait for ``until()`` (what the test waits
    for: the sink has them, a counter moved) before it shuts down."""
    async with started(exporter):
        for batch in batches:
            await exporter.consume(batch)
        await until()
