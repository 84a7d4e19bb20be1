"""stderr / stdout: one ``write()`` per chunk, from a worker thread.

The write happens off the event loop because a full pipe (a container log driver that
stalls) blocks ``write()``; the pipeline must not stall with it.
"""

from __future__ import annotations

import asyncio
import os
import sys

from .base import PartialWrite, Writer


class StreamWriter(Writer):
    def __init__(self, which: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.kind = which  # "stderr" | "stdout"

    async def _write(self, data: bytes, messages: list[bytes]) -> None:
        stream = sys.stderr if self.kind == "stderr" else sys.stdout
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text-only stand-in (tests, embedding programs)
            stream.write(data.decode("utf-8"))
            stream.flush()
            return
        await asyncio.to_thread(_write_all_buffer, buffer, data)


def _write_all_buffer(buffer: object, data: bytes) -> None:
    written = 0
    try:
        while written < len(data):
            n = buffer.write(data[written:])  # type: ignore[attr-defined]
            written += len(data) - written if n is None else n
        buffer.flush()  # type: ignore[attr-defined]
    except OSError as exc:
        raise PartialWrite(exc, written) from exc


def write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``; on error raise PartialWrite with the progress."""
    view = memoryview(data)
    written = 0
    try:
        while written < len(view):
            written += os.write(fd, view[written:])
    except OSError as exc:
        raise PartialWrite(exc, written) from exc
