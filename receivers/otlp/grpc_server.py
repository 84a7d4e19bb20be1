"""OTLP/gRPC: the Trace, Logs and Metrics ``Export`` methods on a grpc.aio server.

The handlers are generic and take raw bytes (no request deserializer), so an
undecodable request is answered INVALID_ARGUMENT by us, not INTERNAL
("Exception deserializing request!") by grpcio, and the bytes are kept as the
part's wire form. A service whose signal has no consumer is not registered, so
grpc answers UNIMPLEMENTED. gzip-compressed requests are decompressed by grpc,
and ``max_recv_msg_size_mib`` applies to the decompressed size.

Slow and idle clients (issue 13): ``channel_options`` maps the Collector's keepalive keys,
``max_concurrent_streams`` and ``max_connections`` to grpc core's channel arguments. grpc
reads a request only once it is whole (there is no header or body timeout to set: HTTP/2
flow control bounds what a stalled stream holds, 64KiB by default), so an idle connection
is closed by ``max_connection_idle``, a dead one by the keepalive ping, and the number of
connections by ``grpc.max_allowed_incoming_connections``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc

from hangar_otelcol.auth import Credentials
from hangar_otelcol.pdata import Principal, Sender, Signal
from hangar_otelcol.receivers.otlp import status
from hangar_otelcol.receivers.otlp.auth import RequestAuth, certificate_from_grpc
from hangar_otelcol.receivers.otlp.config import GRPCConfig, MiB
from hangar_otelcol.receivers.otlp.server import ProtocolServer

if TYPE_CHECKING:
    from hangar_otelcol.receivers.otlp.receiver import OTLPReceiver


def parse_peer(peer: str) -> str:
    """``ipv4:127.0.0.1:5000`` / ``ipv6:[::1]:5000`` / ``unix:...`` -> the address alone."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition("]")[0].lstrip("[") if "]" in rest else rest
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    return rest or peer


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def channel_options(cfg: GRPCConfig) -> list[tuple[str, Any]]:
    """The server's grpc channel arguments; a 0 duration leaves grpc's default (never)."""
    sp = cfg.keepalive.server_parameters
    ep = cfg.keepalive.enforcement_policy
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", cfg.max_recv_msg_size_mib * MiB),
        # grpc turns SO_REUSEPORT on by default; then a second gateway on the same
        # port would start silently and split the traffic. Only when asked.
        ("grpc.so_reuseport", 1 if cfg.reuse_port else 0),
        ("grpc.max_allowed_incoming_connections", cfg.connection_cap),
        ("grpc.http2.min_ping_interval_without_data_ms", _ms(ep.min_time)),
        ("grpc.keepalive_permit_without_calls", 1 if ep.permit_without_stream else 0),
        # the server's own keepalive pings go on over a quiet connection (grpc core stops
        # after 2 without data, and a dead peer would then never be noticed)
        ("grpc.http2.max_pings_without_data", 0),
    ]
    if cfg.max_concurrent_streams:
        options.append(("grpc.max_concurrent_streams", cfg.max_concurrent_streams))
    if sp.max_connection_idle:
        options.append(("grpc.max_connection_idle_ms", _ms(sp.max_connection_idle)))
    if sp.max_connection_age:
        options.append(("grpc.max_connection_age_ms", _ms(sp.max_connection_age)))
        if sp.max_connection_age_grace:
            options.append(("grpc.max_connection_age_grace_ms",
                            _ms(sp.max_connection_age_grace)))
    if sp.time:
        options.append(("grpc.keepalive_time_ms", _ms(sp.time)))
        options.append(("grpc.keepalive_timeout_ms", _ms(sp.timeout)))
    return options


class GRPCServer(ProtocolServer[GRPCConfig]):
    def __init__(self, receiver: OTLPReceiver, config: GRPCConfig,
                 auth: RequestAuth | None = None) -> None:
        super().__init__(receiver, config, auth)
        self.server: grpc.aio.Server | None = None

    async def start(self) -> None:
        cfg = self.config
        server = grpc.aio.server(options=channel_options(cfg))
        handlers = []
        for signal in self.receiver.consumers:
            method = grpc.unary_unary_rpc_method_handler(
                self._handler(signal), request_deserializer=None, response_serializer=None)
            handlers.append(grpc.method_handlers_generic_handler(
                signal.info.grpc_service, {"Export": method}))
        server.add_generic_rpc_handlers(handlers)
        address = cfg.endpoint
        try:
            if cfg.tls is not None and cfg.tls.enabled:
                self.port = server.add_secure_port(address, cfg.tls.grpc_credentials())
            else:
                self.port = server.add_insecure_port(address)
        except (RuntimeError, OSError) as exc:
            raise OSError(f"otlp receiver {self.receiver.settings.id}: cannot listen for gRPC "
                          f"on {address} (port in use or address not available): {exc}"
                          ) from None
        if not self.port:  # older grpcio returns 0 instead of raising
            raise OSError(f"otlp receiver {self.receiver.settings.id}: cannot listen for gRPC "
                          f"on {address} (port in use or address not available)")
        await server.start()
        self.server = server

    async def stop(self, grace: float) -> None:
        server, self.server = self.server, None
        if server is not None:
            await server.stop(grace)

    def _handler(self, signal: Signal) -> Any:
        receiver = self.receiver
        include_metadata = self.include_metadata
        auth = self.auth
        certificates = self.config.client_certificates

        async def export(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            metadata: dict[str, str] = {}
            if include_metadata or auth is not None:
                for key, value in context.invocation_metadata() or ():
                    if not key.endswith("-bin") and isinstance(value, str):
                        # repeated keys are joined like repeated HTTP headers
                        metadata[key] = (f"{metadata[key]}, {value}" if key in metadata
                                         else value)
            peer = parse_peer(context.peer() or "")
            principal: Principal | None = None
            if auth is not None:
                checked = await auth.check(signal, Credentials(
                    "grpc", peer, metadata,
                    certificate_from_grpc(context) if certificates else None))
                if not isinstance(checked, Principal):
                    await context.abort(checked.code, checked.message)
                    raise AssertionError("unreachable: abort raises")
                principal = checked
            sender = Sender(transport="grpc", peer=peer,
                            metadata=metadata if include_metadata else {}, principal=principal)
            outcome = await receiver.deliver(signal, request, sender)
            if outcome.ok:
                return status.grpc_success(signal, outcome)
            await context.abort(outcome.code, outcome.message,
                                trailing_metadata=status.grpc_trailers(outcome))
            raise AssertionError("unreachable: abort raises")

        return export
