"""The ``otlp_http`` exporter: OTLP/HTTP (protobuf or JSON) with aiohttp.

Retries only what the Collector retries: 429, 502, 503, 504 (honouring
Retry-After as seconds or an HTTP-date) and connection failures; every other
status is permanent.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from google.protobuf.message import DecodeError

from hangar_otelcol import __version__
from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.exporterhelper import ExporterHelper, ExportError
from hangar_otelcol.net import rpcstatus
from hangar_otelcol.pdata import Batch, Signal

from .config import BasicAuthConfig, OTLPHttpConfig
from .partial import PartialSuccessLog

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
#: compress bigger bodies in a worker thread (zlib/zstd release the GIL)
_THREAD_THRESHOLD = 256 * 1024


def _gzip(data: bytes) -> bytes:
    # wbits 31 = gzip container; level 6 as Go's default
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def _zstd(data: bytes) -> bytes:
    import zstandard  # only for users who ask for zstd

    return zstandard.ZstdCompressor(level=3).compress(data)


_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": _gzip, "deflate": _deflate, "zstd": _zstd}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as delta-seconds or an HTTP-date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True, slots=True)
class Answer:
    """What a POST got back."""

    url: str
    status: int
    payload: bytes
    content_type: str
    retry_after: str | None

    def error(self, *, retryable: bool) -> ExportError:
        """The export error for a non-2xx answer, with the server's explanation."""
        detail = _error_detail(self.payload, self.content_type)
        text = f"POST {self.url}: HTTP {self.status}{': ' + detail if detail else ''}"
        if retryable:
            return ExportError(text, retryable=True,
                               retry_after=parse_retry_after(self.retry_after))
        return ExportError(text, retryable=False)


def request_headers(own: dict[str, str], configured: dict[str, str],
                    basic_auth: BasicAuthConfig) -> dict[str, str]:
    """The headers of every request: ours, then the configured ones (an empty value, e.g.
    an unset ``${env:VAR:-}``, means "do not send this header"), then basic auth."""
    headers = {"User-Agent": f"hangar-otelcol/{__version__}", **own}
    headers.update({k: v for k, v in configured.items() if v})
    authorization = basic_auth.header()
    if authorization:
        headers["Authorization"] = authorization
    return headers


async def post(session: aiohttp.ClientSession, url: str, body: bytes,
               headers: dict[str, str], server_name: str = "") -> Answer:
    """One POST (the helper's per-attempt timeout bounds it); a connection failure is a
    retryable ExportError."""
    try:
        async with session.post(url, data=body, headers=headers,
                                server_hostname=server_name or None) as resp:
            return Answer(url, resp.status, await resp.read(),
                          resp.headers.get("Content-Type", ""), resp.headers.get("Retry-After"))
    except aiohttp.ClientError as exc:
        raise ExportError(f"POST {url}: {type(exc).__name__}: {exc}", retryable=True) from None


class OTLPHttpExporter(ExporterHelper):
    queues_bytes = True

    def __init__(self, settings: CreateSettings, config: OTLPHttpConfig) -> None:
        super().__init__(settings, config)
        self.config = config
        self._urls = {signal: config.url_for(signal.value) for signal in Signal}
        self._json = config.encoding == "json"
        self._compress = _COMPRESSORS.get(config.compression)
        own = {"Content-Type": "application/json" if self._json else "application/x-protobuf"}
        if self._compress is not None:
            own["Content-Encoding"] = config.compression
        self._headers = request_headers(own, config.headers, config.basic_auth)
        self._session: aiohttp.ClientSession | None = None
        self._partial = PartialSuccessLog(self.problems, str(settings.id))
        self._encode_json: Callable[[Signal, Any], bytes] | None = None

    async def open(self, host: Host) -> None:
        needs_tls = any(url.startswith("https://") for url in self._urls.values())
        ssl: Any = self.config.tls.ssl_context() if needs_tls else None
        connector = aiohttp.TCPConnector(
            ssl=ssl if ssl is not None else True,
            limit=max(10, self.config.sending_queue.num_consumers))
        if self._json:
            # imported lazily: the JSON codec is only needed by encoding: json
            from hangar_otelcol.otlpjson import encode

            self._encode_json = encode
        # no aiohttp timeout: the helper's per-attempt ``timeout`` governs
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                              timeout=aiohttp.ClientTimeout(total=None))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _body(self, batch: Batch) -> bytes:
        if self._encode_json is not None:
            body = self._encode_json(batch.signal, batch.merged_message())
        else:
            body = batch.wire()
        if self._compress is None:
            return body
        if len(body) > _THREAD_THRESHOLD:
            return await asyncio.to_thread(self._compress, body)
        return self._compress(body)

    async def send(self, batch: Batch) -> None:
        session = self._session
        if session is None:
            raise ExportError(f"exporter {self.settings.id} is not started", retryable=True)
        url = self._urls[batch.signal]
        body = await self._body(batch)
        answer = await post(session, url, body, self._headers,
                            self.config.tls.server_name_override)
        if 200 <= answer.status < 300:
            self._check_partial(batch.signal, answer.payload, answer.content_type, url)
            return
        raise answer.error(retryable=answer.status in RETRYABLE_STATUS)

    def _check_partial(self, signal: Signal, payload: bytes, content_type: str, url: str
                       ) -> None:
        if not payload:
            return
        try:
            if "protobuf" in content_type:
                self._partial.from_proto(signal, payload)
            elif "json" in content_type:
                self._partial.from_json(signal, orjson.loads(payload))
        except (DecodeError, ValueError) as exc:
            # the Collector (>= 0.156) treats an unreadable 2xx body as a permanent error
            raise ExportError(f"POST {url}: HTTP 2xx with an unreadable {content_type} body: "
                              f"{exc}", retryable=False) from None


def _error_detail(payload: bytes, content_type: str) -> str:
    """The server's explanation: a google.rpc.Status message, or the start of the body."""
    if not payload:
        return ""
    if "protobuf" in content_type:
        _, message, _ = rpcstatus.decode(payload)
        if message:
            return message
    text = payload[:300].decode("utf-8", "replace").strip()
    return " ".join(text.split())
