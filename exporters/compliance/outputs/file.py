"""Append to a file, with size-based rotation and logrotate support.

* Append mode (``O_APPEND``): each chunk is one ``write()`` of whole lines, so
  concurrent writers and crashes never leave half a line in the middle.
* Rotation (``rotate_size`` > 0): before a chunk that would take the file past
  the limit, ``path`` -> ``path.1`` -> ... -> ``path.<keep>`` (the oldest is
  deleted) and a new file is started.
* logrotate: the path is stat()ed once per chunk; if the file was moved or
  deleted (inode changed) it is reopened, so ``create`` mode works without a
  signal. ``reopen()`` (called on SIGHUP when ``reopen_on_sighup``) forces it.
* A write error (disk full, permissions) keeps the records in the buffer, logs
  one warning and retries with backoff; the part of a chunk already written is
  not written again, so lines stay whole. Records are lost only when the
  buffer is full (counted as dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from .base import BufferedOutput
from .stream import write_fd


class FileOutput(BufferedOutput):
    kind = "file"

    def __init__(self, path: str, *, rotate_size: int = 0, keep: int = 5, mode: int = 0o640,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.path = path
        self.rotate_size = rotate_size
        self.keep = keep
        self.mode = mode
        self._fd: int | None = None
        self._ino = -1
        self._size = 0
        self._reopen_requested = False

    def describe(self) -> str:
        return f"file {self.path}"

    def reopen(self) -> None:
        """Close and reopen the file before the next write (logrotate's SIGHUP)."""
        self._reopen_requested = True
        self._wakeup.set()

    async def _send(self, data: bytes, messages: list[bytes]) -> None:
        await asyncio.to_thread(self._write, data)

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, self.mode)
        st = os.fstat(fd)
        self._fd, self._ino, self._size = fd, st.st_ino, st.st_size

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _write(self, data: bytes) -> None:
        if self._fd is not None and (self._reopen_requested or self._moved()):
            self._close_fd()
        self._reopen_requested = False
        if self._fd is None:
            self._open()
        if not self.rotate_size or self._size + len(data) <= self.rotate_size:
            self._write_group(data, 0)
            return
        # rotating: cut the chunk at line ends so no file passes rotate_size
        # (lines never contain a raw LF, every format escapes it)
        done = 0
        group_start = 0
        pos = 0
        limit = self.rotate_size
        while pos < len(data):
            end = data.index(b"\n", pos) + 1
            if self._size + (end - group_start) > limit and (self._size or end - group_start
                                                             > end - pos):
                if pos > group_start:
                    self._write_group(data[group_start:pos], done)
                    done += pos - group_start
                    group_start = pos
                if self._size:
                    self._rotate()
            pos = end
        if group_start < len(data):
            self._write_group(data[group_start:], done)

    def _write_group(self, data: bytes, done: int) -> None:
        assert self._fd is not None
        try:
            write_fd(self._fd, data)
        except OSError as exc:
            written = getattr(exc, "written", 0)
            self._size += written
            exc.written = done + written  # type: ignore[attr-defined]
            raise
        self._size += len(data)

    def _moved(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            return True

    def _rotate(self) -> None:
        self._close_fd()
        if self.keep <= 0:
            os.unlink(self.path)
        else:
            oldest = f"{self.path}.{self.keep}"
            if os.path.exists(oldest):
                os.unlink(oldest)
            for i in range(self.keep - 1, 0, -1):
                src = f"{self.path}.{i}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i + 1}")
            os.replace(self.path, f"{self.path}.1")
        self._open()

    async def _reset(self) -> None:
        self._close_fd()

    async def _close(self) -> None:
        self._close_fd()
