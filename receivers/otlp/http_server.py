"""OTLP/HTTP: ``POST /v1/traces|logs|metrics`` with protobuf or JSON bodies, on aiohttp.

Checks in the Collector's order: method (405), media type (415), signal fed by
this receiver (404), size before decompression (413), overload (503), read and
decompress with the limit applied to the *decompressed* size as it grows, so a
gzip bomb never allocates more than the limit (413), decode (400), pipeline.
Answers use the request's encoding: an Export*ServiceResponse on success, a
google.rpc.Status on failure.

Slow clients (issue 13): headers must be complete within ``read_header_timeout`` and the
body within ``read_timeout`` (408 and the connection closed; the body's in-flight bytes
are released at once), idle keep-alive connections close after ``idle_timeout``, and at
most ``max_connections`` are open (``hangar_otelcol.net.http.ConnectionLimits``). Bodies
larger than ``offload_decode_above`` are decompressed and decoded in a worker thread.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import TYPE_CHECKING

import grpc
import zstandard
from aiohttp import web

from hangar_otelcol import otlpjson
from hangar_otelcol.auth import Credentials
from hangar_otelcol.net.http import ConnectionLimits, HttpServer, serve
from hangar_otelcol.pdata import Principal, Sender, Signal
from hangar_otelcol.receivers.otlp import status
from hangar_otelcol.receivers.otlp.auth import RequestAuth, certificate_from_peercert
from hangar_otelcol.receivers.otlp.config import HTTPConfig
from hangar_otelcol.receivers.otlp.server import ProtocolServer
from hangar_otelcol.receivers.otlp.status import Outcome

if TYPE_CHECKING:
    from hangar_otelcol.receivers.otlp.receiver import OTLPReceiver

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
_UNSUPPORTED_MEDIA = f"415 unsupported media type, supported: [{JSON}, {PROTOBUF}]"
_METHOD_NOT_ALLOWED = "405 method not allowed, supported: [POST]"
_CHUNK = 1 << 20  # decompression step: bounds the memory a bomb can take beyond the limit


class BodyError(Exception):
    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome
        self.reason = reason


def _too_large(limit: int, detail: str) -> BodyError:
    return BodyError(status.too_large(
        f"request body{detail} is larger than max_request_body_size ({limit} bytes)"),
        "too_large")


def _inflate(body: bytes, wbits: int, limit: int, name: str) -> bytes:
    """zlib/gzip/deflate with the output capped at ``limit`` (multi-member gzip too)."""
    out: list[bytes] = []
    total = 0
    data = body
    while data:
        d = zlib.decompressobj(wbits)
        pending = data
        while not d.eof:
            chunk = d.decompress(pending, min(_CHUNK, limit + 1 - total))
            pending = d.unconsumed_tail
            if chunk:
                total += len(chunk)
                if total > limit:
                    raise _too_large(limit, " after decompression")
                out.append(chunk)
            elif not pending:
                break  # input exhausted before the end of the stream
        if not d.eof:
            raise BodyError(status.bad_request(f"the {name} body is truncated"), "bad_encoding")
        data = d.unused_data
    return b"".join(out)


def _unzstd(body: bytes, limit: int) -> bytes:
    out: list[bytes] = []
    total = 0
    reader = zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True)
    while True:
        chunk = reader.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(out)
        total += len(chunk)
        if total > limit:
            raise _too_large(limit, " after decompression")
        out.append(chunk)


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding`` with the decompressed size capped at ``limit``."""
    if encoding in ("", "identity") or not body:
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return _inflate(body, 31, limit, "gzip")
        if encoding in ("deflate", "zlib"):
            try:  # HTTP "deflate" is zlib-wrapped; some clients send raw deflate
                return _inflate(body, 15, limit, encoding)
            except zlib.error:
                return _inflate(body, -15, limit, encoding)
        if encoding == "zstd":
            return _unzstd(body, limit)
    except zlib.error as exc:
        raise BodyError(status.bad_request(f"invalid {encoding} body: {exc}"),
                        "bad_encoding") from None
    except zstandard.ZstdError as exc:
        raise BodyError(status.bad_request(f"invalid zstd body: {exc}"),
                        "bad_encoding") from None
    raise BodyError(status.bad_request(
        f"unsupported Content-Encoding {encoding!r}; supported: gzip, deflate, zstd"),
        "bad_encoding")


class _Held:
    """The bytes one request holds in flight (its body, as far as it arrived)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


class HTTPServer(ProtocolServer[HTTPConfig]):
    def __init__(self, receiver: OTLPReceiver, config: HTTPConfig,
                 auth: RequestAuth | None = None) -> None:
        super().__init__(receiver, config, auth)
        self._certificates = config.client_certificates
        self.limit = int(config.max_request_body_size)
        self.paths = {config.traces_url_path: Signal.TRACES,
                      config.logs_url_path: Signal.LOGS,
                      config.metrics_url_path: Signal.METRICS}
        self.server: HttpServer | None = None

    async def start(self) -> None:
        cfg = self.config
        # the body is read by hand (with our own limit), so aiohttp's own cap is lifted
        app = web.Application(client_max_size=self.limit + 1)
        for path in self.paths:
            app.router.add_route("*", path, self.handle)
        tls = cfg.tls.ssl_context() if cfg.tls is not None and cfg.tls.enabled else None
        try:
            # auto_decompress off: aiohttp would inflate without our limit (gzip bombs)
            self.server = await serve(
                app, cfg.endpoint, what="HTTP", ssl_context=tls, reuse_port=cfg.reuse_port,
                shutdown_timeout=float(self.receiver.config.shutdown_timeout),
                auto_decompress=False, limits=ConnectionLimits(
                    read_header_timeout=float(cfg.read_header_timeout),
                    idle_timeout=float(cfg.idle_timeout),
                    max_connections=cfg.connection_cap,
                    on_refused=self._refused_connection))
        except OSError as exc:
            raise OSError(f"otlp receiver {self.receiver.settings.id}: {exc}") from None
        self.port = self.server.port

    def _refused_connection(self, reason: str) -> None:
        receiver = self.receiver
        receiver.failed_requests.inc("http", reason)
        receiver.problems.warn(reason, "otlp receiver %s: HTTP connection closed (%s; see "
                               "read_header_timeout, max_connections)",
                               receiver.settings.id, reason.replace("_", " "))

    @property
    def connections(self) -> int:
        """Open HTTP connections."""
        return self.server.connections if self.server is not None else 0

    async def stop(self, grace: float) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.stop()  # stops listening, then waits for running handlers

    # ----------------------------------------------------------------- request path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        receiver = self.receiver
        signal = self.paths[request.path]
        if request.method != "POST":
            receiver.failed_requests.inc("http", "method_not_allowed")
            return web.Response(status=405, text=_METHOD_NOT_ALLOWED, headers={"Allow": "POST"})
        media = request.content_type  # lower-cased media type, parameters dropped
        if media == PROTOBUF:
            is_json = False
        elif media == JSON:
            is_json = True
        else:
            receiver.failed_requests.inc("http", "unsupported_media_type")
            return web.Response(status=415, text=_UNSUPPORTED_MEDIA)
        if signal not in receiver.consumers:
            outcome = Outcome(grpc.StatusCode.UNIMPLEMENTED,
                              f"this receiver does not accept {signal.value}")
            return self._respond(signal, outcome, is_json)
        principal: Principal | None = None
        if self.auth is not None:  # before the body is read: a stranger's body is not read
            checked = await self.auth.check(signal, self._credentials(request))
            if not isinstance(checked, Principal):
                return self._respond(signal, checked, is_json, close=True)
            principal = checked
        length = request.content_length
        if length is not None and length > self.limit:
            return self._respond(signal, receiver.reject("http", "too_large", status.too_large(
                f"request body ({length} bytes) is larger than max_request_body_size "
                f"({self.limit} bytes)")), is_json, close=True)
        # the body counts in flight from its first byte: a flood of large or slow bodies is
        # refused before it is read, not after it filled memory
        held = _Held(length or 0)
        if not receiver.reserve(held.size):
            return self._respond(signal, receiver.overloaded("http"), is_json, close=True)
        try:
            return await self._handle_body(request, signal, is_json, held, principal)
        finally:
            receiver.release(held.size)

    def _credentials(self, request: web.Request) -> Credentials:
        certificate = None
        if self._certificates and request.transport is not None:
            certificate = certificate_from_peercert(
                request.transport.get_extra_info("peercert"))
        # a header sent twice is joined as gRPC metadata is (grpc_server.py), so a second
        # Authorization makes the credential malformed instead of the last one winning
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            k = key.lower()
            headers[k] = f"{headers[k]}, {value}" if k in headers else value
        return Credentials("http", request.remote or "", headers, certificate)

    async def _handle_body(self, request: web.Request, signal: Signal, is_json: bool,
                           held: _Held, principal: Principal | None) -> web.StreamResponse:
        receiver = self.receiver
        try:
            body = await self._read(request, held)
            encoding = request.headers.get("Content-Encoding", "").strip().lower()
            if encoding not in ("", "identity"):
                # judged by what it may expand to (up to the body limit), not its
                # compressed size: 30 KB of gzip can be 20 MiB of protobuf
                body = await receiver.offload(self.limit, decompress, body, encoding,
                                              self.limit)
        except BodyError as exc:
            return self._respond(signal, receiver.reject("http", exc.reason, exc.outcome),
                                 is_json, close=exc.reason in ("overloaded", "read_timeout"))
        if not body:  # an empty request is a valid, empty export
            return self._respond(signal, status.OK, is_json)
        if is_json:
            try:
                body = await receiver.offload(len(body), otlpjson.decode_wire, signal, body)
            except otlpjson.OtlpJsonError as exc:
                outcome = status.bad_request(f"invalid OTLP/JSON {signal.value} request: {exc}")
                return self._respond(signal, receiver.reject("http", "bad_json", outcome),
                                     is_json)
        outcome = await receiver.deliver(signal, body, self._sender(request, principal),
                                         reserved=True)
        return self._respond(signal, outcome, is_json)

    async def _read(self, request: web.Request, held: _Held) -> bytes:
        """The body, within ``read_timeout`` (408 after it: a stalled body)."""
        timeout = float(self.config.read_timeout)
        try:
            async with asyncio.timeout(timeout or None):
                return await self._read_body(request, held)
        except TimeoutError:
            raise BodyError(Outcome(grpc.StatusCode.DEADLINE_EXCEEDED, (
                f"the request body did not arrive within read_timeout ({timeout:g}s; "
                f"{held.size} bytes read)"), http_status=408), "read_timeout") from None

    async def _read_body(self, request: web.Request, held: _Held) -> bytes:
        limit = self.limit
        chunks: list[bytes] = []
        total = 0
        content = request.content
        receiver = self.receiver
        while True:  # also reads chunked bodies (no Content-Length)
            chunk = await content.readany()
            if not chunk:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            total += len(chunk)
            if total > limit:
                raise _too_large(limit, "")
            if total > held.size:  # more than announced (or a chunked body): count it
                grown = total - held.size
                held.size = total
                if not receiver.grow(grown):
                    raise BodyError(receiver.overloaded("http"), "overloaded")
            chunks.append(chunk)

    def _sender(self, request: web.Request, principal: Principal | None) -> Sender:
        metadata: dict[str, str] = {}
        if self.include_metadata:
            for key, value in request.headers.items():
                k = key.lower()
                metadata[k] = f"{metadata[k]}, {value}" if k in metadata else value
        return Sender(transport="http", peer=request.remote or "", metadata=metadata,
                      principal=principal)

    @staticmethod
    def _respond(signal: Signal, outcome: Outcome, is_json: bool, close: bool = False
                 ) -> web.Response:
        """``close``: the body was not read; the connection cannot be used again."""
        content_type = JSON if is_json else PROTOBUF
        if outcome.ok:
            body = status.success_body(signal, outcome, is_json)
            return web.Response(status=200, body=body, content_type=content_type)
        body = status.rpc_status_json(outcome) if is_json else status.rpc_status(outcome)
        headers = {}
        if outcome.retry_after is not None and outcome.status in (429, 503):
            headers["Retry-After"] = status.retry_after_header(outcome.retry_after)
        if outcome.challenge and outcome.status == 401:
            headers["WWW-Authenticate"] = outcome.challenge
        if close:
            headers["Connection"] = "close"
        return web.Response(status=outcome.status, body=body, content_type=content_type,
                            headers=headers)
