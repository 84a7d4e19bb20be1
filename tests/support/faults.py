"""Fault-test bookkeeping: clients that keep sending numbered calls, and the tally of what
they sent, what the gateway acknowledged and what arrived at an output.

``CallSender`` threads send requests of numbered tool calls (tests/support/workload.py)
with grpcio, each request again and again until the gateway answers OK, as an SDK exporter
does that never gives up (bounded by a deadline). A refusal's retry hint (RetryInfo) is
honoured and counted. ``Tally`` is the report every fault test prints: sent,
acknowledged, delivered (acknowledged calls found at the output), duplicated (extra
copies there), lost (acknowledged, not there).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2

from hangar_otelcol.pdata import Signal
from hangar_otelcol.signals import SIGNALS
from tests.support.gateway import GatewayProcess
from tests.support.waiting import eventually
from tests.support.workload import calls_request

RETRY_INFO_KEY = "google.rpc.retryinfo-bin"


@dataclass
class Tally:
    """What one fault run did; ``settle`` compares the acknowledged calls with an output."""

    scenario: str
    sent: int = 0
    acknowledged: int = 0
    delivered: int = 0
    duplicated: int = 0
    lost: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def settle(self, sender: CallSender, arrived: Counter[int]) -> Tally:
        self.sent = len(sender.sent)
        self.acknowledged = len(sender.acked)
        self.delivered = sum(1 for n in sender.acked if arrived[n])
        self.duplicated = sum(count - 1 for count in arrived.values() if count > 1)
        self.lost = self.acknowledged - self.delivered
        self.notes.setdefault("requests", sender.requests)
        self.notes.setdefault("attempts", sender.attempts)
        if sender.refusals:
            self.notes.setdefault("refusals", dict(sender.refusals))
            self.notes.setdefault("refusals_with_retry_info", sender.hinted)
        return self

    def line(self) -> str:
        notes = " ".join(f"{k}={v}" for k, v in self.notes.items())
        return (f"{self.scenario}: sent={self.sent} acknowledged={self.acknowledged} "
                f"delivered={self.delivered} duplicated={self.duplicated} lost={self.lost}"
                + (f" ({notes})" if notes else ""))


def arrivals(numbers: Iterable[int | None]) -> Counter[int]:
    """How often each call number arrived (None: not one of ours, ignored)."""
    return Counter(n for n in numbers if n is not None)


class CallSender:
    """``threads`` clients sending ``per_request`` calls per request to an OTLP/gRPC
    endpoint until ``stop()``; a request is retried until acknowledged or ``deadline``."""

    def __init__(self, target: str, *, threads: int = 4, per_request: int = 20,
                 pause: float = 0.0, timeout: float = 5.0, deadline: float = 120.0,
                 first_call: int = 0) -> None:
        self.target = target
        self.per_request = per_request
        self.pause = pause
        self.timeout = timeout
        self.deadline = deadline
        self._numbers = itertools.count(0)
        self._first = first_call
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"sender-{i}", daemon=True)
                         for i in range(threads)]
        self.sent: set[int] = set()
        self.acked: set[int] = set()
        self.requests = 0
        self.attempts = 0
        self.refusals: Counter[str] = Counter()
        self.hinted = 0
        self.gave_up = 0

    def start(self) -> CallSender:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 180.0) -> None:
        """Stop making new requests; wait until every request made was answered OK."""
        self._stop.set()
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"senders still retrying after {timeout}s: {alive}"

    def _run(self) -> None:
        channel = grpc.insecure_channel(self.target)
        export = channel.unary_unary(f"/{SIGNALS[Signal.LOGS].grpc_service}/Export")
        try:
            while not self._stop.is_set():
                first = self._first + next(self._numbers) * self.per_request
                body = calls_request(first, self.per_request).SerializeToString()
                numbers = range(first, first + self.per_request)
                with self._lock:
                    self.sent.update(numbers)
                    self.requests += 1
                if self._send(export, body):
                    with self._lock:
                        self.acked.update(numbers)
                else:
                    self.gave_up += 1
                if self.pause:
                    time.sleep(self.pause)
        finally:
            channel.close()

    def _send(self, export: Any, body: bytes) -> bool:
        give_up = time.monotonic() + self.deadline
        while time.monotonic() < give_up:
            with self._lock:
                self.attempts += 1
            try:
                export(body, timeout=self.timeout)
                return True
            except grpc.RpcError as error:
                time.sleep(self._backoff(error))
        return False

    def _backoff(self, error: Any) -> float:
        code = error.code()
        with self._lock:
            self.refusals[code.name] += 1
        for key, value in error.trailing_metadata() or ():
            if key == RETRY_INFO_KEY:
                info = error_details_pb2.RetryInfo.FromString(value)
                with self._lock:
                    self.hinted += 1
                # honoured, as the SDK does, but capped: the test's time is bounded
                return min(info.retry_delay.ToTimedelta().total_seconds(), 1.0)
        return 0.2  # the gateway is down (UNAVAILABLE from the channel): try again soon


async def drain(sender: CallSender, arrived: Callable[[], Iterable[int | None]], where: str,
                timeout: float = 90.0) -> None:
    """Stop the senders (then every request they made was acknowledged) and wait, bounded,
    until every acknowledged call arrived ``where`` (``arrived()`` lists what did)."""
    await asyncio.to_thread(sender.stop)
    await eventually(lambda: sender.acked <= set(arrived()), timeout,
                     lambda: f"{len(sender.acked)} acknowledged calls {where} (found "
                             f"{len(set(arrived()))})", interval=0.2)


async def stop(sender: CallSender, gateway: GatewayProcess) -> None:
    """The end of every fault test (also after a failure): senders, then the gateway,
    which must exit 0."""
    await asyncio.to_thread(sender.stop)
    code = await asyncio.to_thread(gateway.stop)
    assert code == 0, gateway.stderr()


@contextlib.asynccontextmanager
async def stopping(sender: CallSender, gateway: GatewayProcess,
                   then: Callable[[], Awaitable[object]] | None = None) -> AsyncIterator[None]:
    """The run of a fault test: when the block ends (also after a failure), ``stop`` the
    senders and the gateway, then ``then()`` (the test's backend), even if that failed."""
    try:
        yield
    finally:
        try:
            await stop(sender, gateway)
        finally:
            if then is not None:
                await then()
