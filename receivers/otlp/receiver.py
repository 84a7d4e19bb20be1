"""The ``otlp`` receiver: one instance serves gRPC and HTTP for every signal it feeds.

Both servers hand each request to ``OTLPReceiver.deliver`` as protobuf wire bytes;
it parses them once (``pdata.decode`` keeps the bytes, so a request nobody
changes is forwarded without being serialized again), checks the overload
limits, calls the pipeline and turns the result into an ``Outcome``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError

from hangar_otelcol.component import BaseComponent, Consumer, ConsumerError, CreateSettings, Host
from hangar_otelcol.pdata import Batch, Sender, Signal, decode
from hangar_otelcol.receivers.otlp import status
from hangar_otelcol.receivers.otlp.auth import RequestAuth
from hangar_otelcol.receivers.otlp.config import GRPCConfig, HTTPConfig, OTLPReceiverConfig
from hangar_otelcol.receivers.otlp.server import C, ProtocolServer
from hangar_otelcol.receivers.otlp.status import Outcome

T = TypeVar("T")


class OTLPReceiver(BaseComponent):
    def __init__(self, settings: CreateSettings, config: OTLPReceiverConfig,
                 consumers: Mapping[Signal, Consumer]) -> None:
        super().__init__(settings)
        self.config = config
        self.consumers = dict(consumers)
        self.failed_requests = settings.telemetry.counter(
            "otelcol_receiver_failed_requests_total",
            "Requests answered with an error, by transport and reason",
            ("transport", "reason"))
        self.inflight_bytes = 0
        self.inflight_requests = 0
        self.telemetry.gauge("otelcol_receiver_inflight_requests", "Requests being processed "
                             "or waiting for their acknowledgement (overload limits apply)",
                             lambda: float(self.inflight_requests))
        self.telemetry.gauge("otelcol_receiver_inflight_bytes", "Request bytes being processed "
                             "or waiting for their acknowledgement (overload limits apply)",
                             lambda: float(self.inflight_bytes))
        self._idle = asyncio.Event()
        self._idle.set()
        self._servers: list[ProtocolServer[Any]] = []
        self.grpc_server: ProtocolServer[GRPCConfig] | None = None
        self.http_server: ProtocolServer[HTTPConfig] | None = None
        self._decoder: ThreadPoolExecutor | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: Host) -> None:
        from hangar_otelcol.receivers.otlp.grpc_server import GRPCServer
        from hangar_otelcol.receivers.otlp.http_server import HTTPServer

        protocols = self.config.protocols
        try:
            if protocols.grpc is not None:
                self.grpc_server = await self._serve(GRPCServer, protocols.grpc, "grpc", host)
            if protocols.http is not None:
                self.http_server = await self._serve(HTTPServer, protocols.http, "http", host)
        except BaseException:
            await self.shutdown()
            raise

    async def _serve(self, server_class: type[ProtocolServer[C]], config: C, transport: str,
                     host: Host) -> ProtocolServer[C]:
        """Start one protocol's server (stopped by ``shutdown`` from then on)."""
        server = server_class(self, config, self._auth(config, transport, host))
        await server.start()
        self._servers.append(server)
        return server

    def _auth(self, config: GRPCConfig | HTTPConfig, transport: str, host: Host
              ) -> RequestAuth | None:
        if config.auth is None:
            return None
        try:
            auth = RequestAuth(self.settings, config.auth, transport, config.client_certificates)
            auth.start(host)
        except ValueError as exc:
            raise ValueError(f"protocols.{transport}.{exc}") from None
        return auth

    async def shutdown(self) -> None:
        """Stop accepting, then wait (bounded) for requests already in the pipeline."""
        timeout = float(self.config.shutdown_timeout)
        servers, self._servers = self._servers, []
        await asyncio.gather(*(s.stop(timeout) for s in servers), return_exceptions=True)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            self.settings.logger.warning(
                "otlp receiver %s: %d request(s) still in the pipeline after %.1fs",
                self.settings.id, self.inflight_requests, timeout)
        decoder, self._decoder = self._decoder, None
        if decoder is not None:
            decoder.shutdown(wait=False, cancel_futures=True)

    async def offload(self, size: int, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)``: on the event loop for a small body, else in the decode thread.

        One thread, so large bodies are decoded one at a time (they wait, counted in
        flight) and a few hostile ones cannot take every core; the event loop meanwhile
        serves the small requests. The thread holds the GIL while it runs C code (orjson,
        upb), so this shortens the loop's stalls rather than removing them (bench.hostile).
        """
        threshold = int(self.config.offload_decode_above)
        if not threshold or size <= threshold:
            return fn(*args)
        if self._decoder is None:
            self._decoder = ThreadPoolExecutor(1, thread_name_prefix="otlp-decode")
        return await asyncio.get_running_loop().run_in_executor(self._decoder, fn, *args)

    # ----------------------------------------------------------------- data path

    def admit(self, size: int) -> bool:
        """Room for one more request of ``size`` bytes? (One request is always let in.)"""
        limits = self.config.overload
        if self.inflight_requests == 0:
            return True
        if limits.max_inflight_requests and self.inflight_requests >= limits.max_inflight_requests:
            return False
        return not (limits.max_inflight_bytes
                    and self.inflight_bytes + size > limits.max_inflight_bytes)

    def reserve(self, size: int) -> bool:
        """Admit one request of ``size`` bytes and count it in flight until ``release``."""
        if not self.admit(size):
            return False
        self.inflight_requests += 1
        self.inflight_bytes += size
        self._idle.clear()
        return True

    def grow(self, size: int) -> bool:
        """A request in flight now holds ``size`` more bytes (a body still arriving); False
        when that passes the byte limit (the bytes are counted anyway, until released)."""
        self.inflight_bytes += size
        limit = self.config.overload.max_inflight_bytes
        return not (limit and self.inflight_requests > 1 and self.inflight_bytes > limit)

    def release(self, size: int) -> None:
        self.inflight_requests -= 1
        self.inflight_bytes -= size
        if self.inflight_requests == 0:
            self._idle.set()

    def overloaded(self, transport: str) -> Outcome:
        self.failed_requests.inc(transport, "overloaded")
        self.problems.warn("overload", "otlp receiver %s: refusing requests, %d requests / %d "
                           "bytes in flight (overload limits)", self.settings.id,
                           self.inflight_requests, self.inflight_bytes)
        # RESOURCE_EXHAUSTED / 429: the senders send more than the gateway takes in now;
        # with a retry hint both the SDKs and the Collector's exporters back off and retry
        return status.exhausted("the gateway has too much in flight; retry later",
                                float(self.config.overload.retry_after))

    def reject(self, transport: str, reason: str, outcome: Outcome) -> Outcome:
        """Count and (rate-limited) log a request refused before reaching the pipeline."""
        self.failed_requests.inc(transport, reason)
        answer = outcome.code.name if transport == "grpc" else outcome.status
        self.problems.warn(reason, "otlp receiver %s: %s request refused (%s): %s",
                           self.settings.id, transport, answer, outcome.message,
                           detail=transport)
        return outcome

    async def deliver(self, signal: Signal, wire: bytes, sender: Sender,
                      reserved: bool = False) -> Outcome:
        """Parse one serialized Export*ServiceRequest and push it into the pipeline.

        ``reserved``: the caller counts the request in flight already (``reserve``, the HTTP
        server does from the first byte of the body); otherwise it is reserved here.
        """
        transport = sender.transport
        consumer = self.consumers.get(signal)
        if consumer is None:  # the servers route only fed signals; kept as a safety net
            return Outcome(grpc.StatusCode.UNIMPLEMENTED,
                           f"this receiver does not accept {signal.value}")
        size = len(wire)
        if not reserved:
            if not self.reserve(size):
                return self.overloaded(transport)
            try:
                return await self._deliver(signal, wire, sender, consumer)
            finally:
                self.release(size)
        return await self._deliver(signal, wire, sender, consumer)

    async def _deliver(self, signal: Signal, wire: bytes, sender: Sender, consumer: Consumer
                       ) -> Outcome:
        transport = sender.transport
        try:
            part = await self.offload(len(wire), decode, signal, wire, sender)
        except DecodeError as exc:
            return self.reject(transport, "bad_protobuf", status.bad_request(
                f"cannot decode the {signal.value} request as protobuf: {exc}"))
        items = part.item_count
        if items == 0:  # an empty request is a success (and needs no pipeline work)
            return status.OK
        try:
            await consumer.consume(Batch(signal, [part]))
        except ConsumerError as exc:
            return self._consumer_error(signal, items, transport, exc)
        except Exception as exc:  # a bug downstream: retryable, so no data is lost
            self.telemetry.refused(signal, items, transport)
            self.failed_requests.inc(transport, "internal")
            self.settings.logger.exception("otlp receiver %s: pipeline failed", self.settings.id)
            return status.unavailable(f"internal error in the pipeline: {exc}",
                                      float(self.config.overload.retry_after))
        self.telemetry.accepted(signal, items, transport)
        return status.OK

    def _consumer_error(self, signal: Signal, items: int, transport: str,
                        exc: ConsumerError) -> Outcome:
        message = str(exc) or type(exc).__name__
        if exc.partial:
            rejected = min(max(exc.rejected, 0), items)
            self.telemetry.accepted(signal, items - rejected, transport)
            self.telemetry.refused(signal, rejected, transport)
            return Outcome(rejected=rejected, message=message)
        self.telemetry.refused(signal, items, transport)
        if exc.permanent:
            self.failed_requests.inc(transport, "refused_permanent")
            return status.bad_request(message)
        self.failed_requests.inc(transport, "refused_retryable")
        self.problems.warn("refused", "otlp receiver %s: %s refused for now (the sender "
                           "retries): %s", self.settings.id, signal.value, message,
                           detail=type(exc).__name__)
        retry_after = exc.retry_after
        if retry_after is None:
            retry_after = float(self.config.overload.retry_after)
        return status.unavailable(message, retry_after)
