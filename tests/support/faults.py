"""Fault-test bookkeeping: clients that keep sending numbered calls, and the tally of what
they sent, what the gateway acknowledged and what arrived at an output.

``CallSender`` threads send requests of numbered tool calls (tests/support/workload.py)
with grpcio (or OTLP/HTTP with http.client), each request again and again until the
gateway answers OK, as an SDK exporter does that never gives up (bounded by a deadline).
A refusal's retry hint (RetryInfo, Retry-After) is honoured and counted. With
``hangar2=True`` every call is reported twice, as hangar 2.x does: its span on one
connection and its audit record on another. ``Tally`` is the report every fault test prints: sent,
acknowledged, delivered (acknowledged calls found at the output), duplicated (extra
copies there), lost (acknowledged, not there).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol

import grpc
from google.rpc import error_details_pb2

from hangar_otelcol.pdata import Signal
from hangar_otelcol.signals import SIGNALS
from tests.support.gateway import GatewayProcess
from tests.support.waiting import eventually
from tests.support.workload import calls_request, spans_request

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


@dataclass(eq=False)
class CallSender:
    """``threads`` clients sending ``per_request`` calls per request to an OTLP endpoint
    (``host:port``; gRPC, or OTLP/HTTP with ``http=True``) until ``stop()``; a request is
    retried until acknowledged or ``deadline``. A call is acknowledged when every request
    that reports it was."""

    target: str
    _: KW_ONLY
    threads: int = 4
    per_request: int = 20
    pause: float = 0.0
    timeout: float = 5.0
    deadline: float = 120.0
    first_call: int = 0
    hangar2: bool = False
    http: bool = False
    #: stop making requests after this many calls (all threads together)
    limit: int | None = None
    # what happened (read by Tally)
    sent: set[int] = field(default_factory=set, init=False)
    acked: set[int] = field(default_factory=set, init=False)
    requests: int = field(default=0, init=False)
    attempts: int = field(default=0, init=False)
    refusals: Counter[str] = field(default_factory=Counter, init=False)
    hinted: int = field(default=0, init=False)
    gave_up: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._numbers = itertools.count(0)
        self._first = self.first_call
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"sender-{i}", daemon=True)
                         for i in range(self.threads)]

    def start(self) -> CallSender:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 180.0) -> None:
        """Stop making new requests; wait until every request made was answered OK."""
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float = 180.0) -> None:
        """Wait until the threads are done (``limit`` reached, or stopped)."""
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"senders still retrying after {timeout}s: {alive}"

    def _run(self) -> None:
        signals = [Signal.TRACES, Signal.LOGS] if self.hangar2 else [Signal.LOGS]
        # one connection per signal, as an SDK's span and log exporters each have their own
        exporters = {signal: self._exporter(signal) for signal in signals}
        try:
            for request in itertools.count():
                if self._stop.is_set():
                    break
                first = self._first + next(self._numbers) * self.per_request
                if self.limit is not None and first - self._first >= self.limit:
                    break
                count = self.per_request if self.limit is None else \
                    min(self.per_request, self._first + self.limit - first)
                numbers = range(first, first + count)
                with self._lock:
                    self.sent.update(numbers)
                    self.requests += len(signals)
                # both orders: hangar's SDK flushes the two signals independently
                order = signals if request % 2 == 0 else signals[::-1]
                if all(self._send(exporters[signal], _body(signal, first, count))
                       for signal in order):
                    with self._lock:
                        self.acked.update(numbers)
                else:
                    self.gave_up += 1
                if self.pause:
                    time.sleep(self.pause)
        finally:
            for exporter in exporters.values():
                exporter.close()

    def _exporter(self, signal: Signal) -> _Exporter:
        return _HttpExporter(self.target, signal, self.timeout) if self.http else \
            _GrpcExporter(self.target, signal, self.timeout)

    def _send(self, exporter: _Exporter, body: bytes) -> bool:
        give_up = time.monotonic() + self.deadline
        while time.monotonic() < give_up:
            with self._lock:
                self.attempts += 1
            refusal = exporter.export(body)
            if refusal is None:
                return True
            code, hint = refusal
            with self._lock:
                self.refusals[code] += 1
                self.hinted += hint is not None
            # a hint is honoured, as the SDK does, but capped: the test's time is bounded;
            # no hint: the gateway is down (the channel's UNAVAILABLE), try again soon
            time.sleep(min(hint, 1.0) if hint is not None else 0.2)
        return False


def _body(signal: Signal, first: int, count: int) -> bytes:
    request = spans_request(first, count) if signal is Signal.TRACES else \
        calls_request(first, count)
    return request.SerializeToString()


class _Exporter(Protocol):
    def export(self, body: bytes) -> tuple[str, float | None] | None:
        """None when acknowledged, else (refusal code, retry hint in seconds or None)."""

    def close(self) -> None: ...


class _GrpcExporter:
    def __init__(self, target: str, signal: Signal, timeout: float) -> None:
        # a connection of its own (grpcio shares one between channels to one target in a
        # process; each exporter here stands for a separate SDK exporter, or process)
        self.channel = grpc.insecure_channel(target,
                                             options=[("grpc.use_local_subchannel_pool", 1)])
        self.call = self.channel.unary_unary(f"/{SIGNALS[signal].grpc_service}/Export")
        self.timeout = timeout

    def export(self, body: bytes) -> tuple[str, float | None] | None:
        try:
            self.call(body, timeout=self.timeout)
        except grpc.RpcError as error:
            hint = None
            for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
                if key == RETRY_INFO_KEY:
                    info = error_details_pb2.RetryInfo.FromString(value)
                    hint = info.retry_delay.ToTimedelta().total_seconds()
            return error.code().name, hint  # type: ignore[attr-defined]
        return None

    def close(self) -> None:
        self.channel.close()


class _HttpExporter:
    """OTLP/HTTP protobuf on one keep-alive connection, as the SDK's requests session."""

    def __init__(self, target: str, signal: Signal, timeout: float) -> None:
        host, _, port = target.rpartition(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.path = SIGNALS[signal].http_path
        self.conn: http.client.HTTPConnection | None = None

    def export(self, body: bytes) -> tuple[str, float | None] | None:
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=self.timeout)
            self.conn.request("POST", self.path, body,
                              {"Content-Type": "application/x-protobuf"})
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return type(exc).__name__, None
        if response.status == 200:
            return None
        retry_after = response.getheader("Retry-After")
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return f"HTTP {response.status}", float(retry_after) if retry_after else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


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
