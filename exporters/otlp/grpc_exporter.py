"""The ``otlp`` exporter: OTLP/gRPC with grpc.aio, sending the parts' bytes as they are.

The request is ``batch.wire()`` (serialized requests concatenate into one valid
request), passed through a raw-bytes method (``request_serializer=None``): a
batch nobody mutated is never re-serialized.
"""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import DecodeError

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.exporterhelper import ExporterHelper, ExportError
from hangar_otelcol.net import rpcstatus
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.signals import SIGNALS

from .config import OTLPGrpcConfig, grpc_target
from .partial import PartialSuccessLog

# the Collector's otlpexporter shouldRetry(); RESOURCE_EXHAUSTED only with RetryInfo
_RETRYABLE = frozenset({
    grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
    grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS,
})

_COMPRESSION = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate,
                "none": grpc.Compression.NoCompression, "": grpc.Compression.NoCompression}


class OTLPGrpcExporter(ExporterHelper):
    queues_bytes = True

    def __init__(self, settings: CreateSettings, config: OTLPGrpcConfig) -> None:
        super().__init__(settings, config)
        self.config = config
        self._target, scheme_tls = grpc_target(config.endpoint)
        # https:// forces TLS; http:// means plain text; otherwise tls.insecure decides
        self._secure = scheme_tls if scheme_tls is not None else not config.tls.insecure
        # an empty value (e.g. an unset ${env:VAR:-}) means "do not send this header"
        self._metadata = tuple((k.lower(), str(v)) for k, v in config.headers.items() if v)
        self._channel: grpc.aio.Channel | None = None
        self._calls: dict[Signal, Any] = {}
        self._partial = PartialSuccessLog(self.problems, str(settings.id))

    def _options(self) -> list[tuple[str, Any]]:
        c = self.config
        options: list[tuple[str, Any]] = [
            ("grpc.lb_policy_name", c.balancer_name),
            ("grpc.primary_user_agent", "hangar-otelcol"),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ]
        if c.tls.server_name_override:
            options.append(("grpc.ssl_target_name_override", c.tls.server_name_override))
        if c.authority:
            options.append(("grpc.default_authority", c.authority))
        if c.keepalive is not None:
            options += [
                ("grpc.keepalive_time_ms", int(c.keepalive.time * 1000)),
                ("grpc.keepalive_timeout_ms", int(c.keepalive.timeout * 1000)),
                ("grpc.keepalive_permit_without_calls", int(c.keepalive.permit_without_stream)),
            ]
        return options

    async def open(self, host: Host) -> None:
        compression = _COMPRESSION[self.config.compression]
        if self._secure:
            self._channel = grpc.aio.secure_channel(
                self._target, self.config.tls.grpc_credentials(), self._options(), compression)
        else:
            self._channel = grpc.aio.insecure_channel(self._target, self._options(), compression)
        self._calls = {
            signal: self._channel.unary_unary(info.grpc_method, request_serializer=None,
                                              response_deserializer=None)
            for signal, info in SIGNALS.items()
        }

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = None

    async def send(self, batch: Batch) -> None:
        call = self._calls.get(batch.signal)
        if call is None:
            raise ExportError(f"exporter {self.settings.id} is not started", retryable=True)
        try:
            response = await call(batch.wire(), metadata=self._metadata,
                                  timeout=self.attempt_timeout or None,
                                  wait_for_ready=self.config.wait_for_ready)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                # the helper's timeout (it waits longer next time: exporterhelper/helper.py)
                raise TimeoutError(f"gRPC DEADLINE_EXCEEDED from {self._target}") from None
            raise self._error(exc) from None
        try:
            self._partial.from_proto(batch.signal, response)
        except DecodeError:
            self.problems.warn("bad_response", "%s: the server's response is not an OTLP "
                               "Export response; assuming the data was accepted",
                               self.settings.id)

    def _error(self, exc: grpc.aio.AioRpcError) -> ExportError:
        code = exc.code()
        message, retry_after = "", None
        trailing: Any = exc.trailing_metadata() or ()  # grpc's stubs type it loosely
        for key, value in trailing:
            if key == "grpc-status-details-bin" and isinstance(value, bytes):
                _, message, retry_after = rpcstatus.decode(value)
        details = exc.details() or message or "(no details)"
        text = f"gRPC {code.name} from {self._target}: {details}"
        if code in _RETRYABLE:
            return ExportError(text, retryable=True, retry_after=retry_after)
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after is not None:
            return ExportError(text, retryable=True, retry_after=retry_after)
        return ExportError(text, retryable=False)
