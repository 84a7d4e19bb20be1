"""What the otlp receiver's gRPC and HTTP servers share (grpc_server.py, http_server.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from hangar_otelcol.receivers.otlp.auth import RequestAuth
from hangar_otelcol.receivers.otlp.config import GRPCConfig, HTTPConfig

if TYPE_CHECKING:
    from hangar_otelcol.receivers.otlp.receiver import OTLPReceiver

C = TypeVar("C", GRPCConfig, HTTPConfig)


class ProtocolServer(Generic[C]):
    """One protocol's server: the receiver it delivers requests to, its config, how its
    requests are authenticated (None: not at all) and, once started, its port."""

    def __init__(self, receiver: OTLPReceiver, config: C, auth: RequestAuth | None = None
                 ) -> None:
        self.receiver: OTLPReceiver = receiver
        self.config: C = config
        self.auth: RequestAuth | None = auth
        self.include_metadata = receiver.config.include_metadata
        self.port = 0

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self, grace: float) -> None:
        """Stop listening; requests in progress get ``grace`` seconds where the protocol
        can bound them."""
        raise NotImplementedError
