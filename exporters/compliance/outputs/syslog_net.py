"""Syslog over the network: UDP (RFC 5426), TCP (RFC 6587) and TLS (RFC 5425).

Messages arrive here already framed (see ``framing``): one datagram per
message for UDP; octet counting (``LEN SP MSG``, the default) or LF-terminated
for TCP; always octet counting for TLS.

Why a resend window: syslog over TCP has no acknowledgements. When a receiver
restarts, it closes the connection (FIN) and whatever we wrote after that, or
what was still unread in its socket buffer, is gone although ``write()``
succeeded. So every chunk is remembered for ``resend_window`` seconds; when the
connection breaks (EOF from the peer, reset, write error) the chunks sent in
that window go out again, before anything newer, on the next connection. A
receiver restart therefore loses nothing; the price is that a few records sent
just before the break may arrive twice (counted as ``resent``; each carries its
record id for de-duplication).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
import time

from .base import Writer


def frame_octet_counting(message: bytes) -> bytes:
    return b"%d %s" % (len(message), message)


def frame_lf(message: bytes) -> bytes:
    return message + b"\n"


class UdpOutput(Writer):
    kind = "udp"
    resume_partial = False

    def __init__(self, host: str, port: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.host, self.port = host, port
        self._sock: socket.socket | None = None
        #: datagrams of the current work already sent (a retry continues after them)
        self._sent = 0

    def describe(self) -> str:
        return f"syslog udp://{self.host}:{self.port}"

    async def _write(self, data: bytes, messages: list[bytes]) -> None:
        if self._sock is None:
            infos = await asyncio.get_running_loop().getaddrinfo(
                self.host, self.port, type=socket.SOCK_DGRAM)
            family, _, _, _, addr = infos[0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            # connected UDP: an ICMP port-unreachable surfaces as ConnectionRefusedError,
            # so a receiver that is down keeps records buffered instead of losing them
            sock.connect(addr)
            self._sock = sock
        sock = self._sock
        for msg in messages[self._sent:]:
            for _ in range(100):  # bounded wait for socket buffer space
                try:
                    sock.send(msg)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.001)
            else:
                raise BlockingIOError("UDP socket buffer stays full")
            self._sent += 1  # a datagram sent is not sent again when the work is retried
        self._sent = 0

    async def reset(self) -> None:
        await self.close()

    async def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class StreamSyslogOutput(Writer):
    """TCP or TLS: one connection, reconnect with backoff, resend window."""

    resume_partial = False

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None,
                 server_name: str | None = None, connect_timeout: float = 5.0,
                 write_timeout: float = 30.0, resend_window: float = 2.0,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.kind = "tls" if tls is not None else "tcp"
        self.host, self.port = host, port
        self._tls = tls
        self._server_name = server_name
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._resend_window = resend_window
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._watch: asyncio.Task[None] | None = None
        self._broken = False
        #: (monotonic time, messages) of recent chunks, for the resend window
        self._recent: collections.deque[tuple[float, list[bytes]]] = collections.deque()
        #: what goes out again, first, on the next connection
        self._again: list[bytes] = []

    def describe(self) -> str:
        return f"syslog {self.kind}://{self.host}:{self.port}"

    async def _connect(self) -> None:
        kwargs: dict[str, object] = {}
        if self._tls is not None:
            kwargs["ssl"] = self._tls
            kwargs["server_hostname"] = self._server_name or self.host
            kwargs["ssl_handshake_timeout"] = self._connect_timeout
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, **kwargs),  # type: ignore[arg-type]
            self._connect_timeout)
        self._reader, self._writer, self._broken = reader, writer, False
        self._watch = asyncio.get_running_loop().create_task(self._watch_peer(reader))

    async def _watch_peer(self, reader: asyncio.StreamReader) -> None:
        """Syslog receivers never send; EOF or an error means the connection is gone."""
        with contextlib.suppress(Exception):
            while await reader.read(4096):
                pass
        if self._reader is reader:
            self._on_break()

    def _on_break(self) -> None:
        if self._broken:
            return
        self._broken = True
        # everything sent recently may not have been read by the receiver: send again
        horizon = time.monotonic() - self._resend_window
        self._again += [m for t, msgs in self._recent if t >= horizon for m in msgs]
        self._recent.clear()

    async def _write(self, data: bytes, messages: list[bytes]) -> None:
        if self._writer is not None and self._broken:
            await self.reset()
        if self._writer is None:
            await self._connect()
        writer = self._writer
        assert writer is not None
        now = time.monotonic()
        again = self._again
        if again:  # written before the connection broke: maybe never read
            self._again = []
            self.count("resent", len(again))
            data = b"".join(again) + data
            messages = again + messages
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), self._write_timeout)
        except BaseException:
            self._again[:0] = again
            self._on_break()
            raise
        if self._broken:  # the peer went away while we were writing
            raise ConnectionResetError("receiver closed the connection")
        recent = self._recent
        recent.append((now, list(messages)))
        horizon = now - self._resend_window
        while recent and recent[0][0] < horizon:
            recent.popleft()

    async def reset(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def close(self) -> None:
        await self.reset()
