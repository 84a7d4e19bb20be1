"""Append to a file, with size-based rotation, logrotate support and crash repair.

* Append mode (``O_APPEND``): each chunk is one ``write()`` of whole lines, so
  concurrent writers and crashes never leave half a line in the middle.
* Rotation (``rotate_size`` > 0): before a chunk that would take the file past
  the limit, ``path`` -> ``path.1`` -> ... -> ``path.<keep>`` (the oldest is
  deleted) and a new file is started.
* logrotate: the path is stat()ed once per chunk; if the file was moved or
  deleted (inode changed) it is reopened, so ``create`` mode works without a
  signal. ``reopen()`` (called on SIGHUP when ``reopen_on_sighup``) forces it.
* A write error (disk full, permissions) fails the attempt; the exporter helper keeps the
  work and retries with backoff; the part of a chunk already written is not written
  again, so lines stay whole.
* The path is opened with O_NOFOLLOW: a symbolic link put in place of the file is refused,
  not followed (a compliance file must not be redirected elsewhere); so is anything that is
  not a regular file (a directory, FIFO, device: opened with O_NONBLOCK, so a FIFO without
  a reader cannot block the writer, and checked with fstat). ``validate`` refuses them too.
* After a crash: a last line without its newline (the gateway was killed during a write)
  is removed when the records come back from a persistent queue (``repair="truncate"``), or
  ended with a newline otherwise; ``recent_ids`` reads the ids of the last records written,
  so records written just before a crash are not written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import os
import re
import stat

from .base import Writer
from .stream import write_fd

#: how much of the end of the file (and the rotated one) ``recent_ids`` reads
TAIL_BYTES = 4 * 1024 * 1024


def open_regular(path: str, flags: int, mode: int = 0o640) -> int:
    """``os.open`` of a regular file only: a symbolic link (``flags`` has O_NOFOLLOW), a
    directory, FIFO or device raise an OSError that says so."""
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        if os.path.islink(path):
            raise OSError(exc.errno, f"{path} is a symbolic link; a compliance file is never "
                          "written through one") from None
        if os.path.isdir(path):
            raise OSError(errno.EISDIR, f"{path} is a directory") from None
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads (O_NONBLOCK)
            raise OSError(exc.errno, f"{path} is not a regular file") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"{path} is not a regular file")
    return fd


def _reader(path: str) -> io.BufferedReader:
    fd = open_regular(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class FileOutput(Writer):
    kind = "file"

    def __init__(self, path: str, *, rotate_size: int = 0, keep: int = 5, mode: int = 0o640,
                 fsync: bool = False, repair: str = "newline", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.path = path
        self.rotate_size = rotate_size
        self.keep = keep
        self.mode = mode
        self.fsync = fsync
        self.repair = repair
        self._fd: int | None = None
        self._ino = -1
        self._size = 0
        self._reopen_requested = False

    def describe(self) -> str:
        return f"file {self.path}"

    def reopen(self) -> None:
        """Close and reopen the file before the next write (logrotate's SIGHUP)."""
        self._reopen_requested = True

    async def open(self) -> None:
        await asyncio.to_thread(self._repair_tail)

    async def _write(self, data: bytes, messages: list[bytes]) -> None:
        await asyncio.to_thread(self._write_sync, data)

    def _open(self) -> None:
        flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
                 | os.O_NONBLOCK)
        fd = open_regular(self.path, flags, self.mode)
        os.set_blocking(fd, True)
        st = os.fstat(fd)
        self._fd, self._ino, self._size = fd, st.st_ino, st.st_size

    def _repair_tail(self) -> None:
        """A last line without its newline is what a crash during a write leaves."""
        try:
            fd = open_regular(self.path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
                              | os.O_NONBLOCK)
        except FileNotFoundError:
            return
        except OSError as exc:  # writes fail the same way, retried and reported
            self._logger.warning("%s: cannot check the end of the file: %s", self.describe(),
                                 exc.strerror or exc)
            return
        try:
            os.set_blocking(fd, True)
            size = os.fstat(fd).st_size
            if size == 0:
                return
            start = max(0, size - TAIL_BYTES)
            tail = os.pread(fd, size - start, start)
            if tail.endswith(b"\n"):
                return
            cut = tail.rfind(b"\n") + 1  # 0 when the whole tail is one torn line
            torn = len(tail) - cut
            if self.repair == "truncate":
                os.ftruncate(fd, size - torn)
                self._logger.warning("%s: removed a torn last line of %d bytes (the gateway "
                                     "stopped during a write); its record is written again "
                                     "from the persistent queue", self.describe(), torn)
            else:
                os.pwrite(fd, b"\n", size)
                self._logger.warning("%s: ended a torn last line of %d bytes with a newline "
                                     "(the gateway stopped during a write)", self.describe(),
                                     torn)
        finally:
            os.close(fd)

    def recent_ids(self, pattern: re.Pattern[bytes]) -> list[bytes]:
        """The record ids (group 1 of ``pattern``) in the last TAIL_BYTES written, in the
        file and, when it is younger than that, in its rotated predecessor."""
        found: list[bytes] = []
        need = TAIL_BYTES
        for path in (self.path, f"{self.path}.1"):
            try:
                with _reader(path) as f:
                    f.seek(0, os.SEEK_END)
                    size = f.tell()
                    f.seek(max(0, size - need))
                    found += pattern.findall(f.read())
            except OSError:
                break
            need -= size
            if need <= 0:
                break
        return found

    def recent_lines(self) -> list[bytes]:
        """The whole lines in the last TAIL_BYTES written, newest first (the file, then its
        rotated predecessor): where a chained output finds its last record."""
        out: list[bytes] = []
        for path in (self.path, f"{self.path}.1"):
            try:
                with _reader(path) as f:
                    f.seek(0, os.SEEK_END)
                    size = f.tell()
                    f.seek(max(0, size - TAIL_BYTES))
                    data = f.read()
            except OSError:  # e.g. logrotate moved the file and none is created yet
                continue
            lines = data.split(b"\n")
            if size > TAIL_BYTES:
                lines = lines[1:]  # the first one may be a part
            out += [line for line in reversed(lines) if line]
        return out

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _write_sync(self, data: bytes) -> None:
        if self._fd is not None and (self._reopen_requested or self._moved()):
            self._close_fd()
        self._reopen_requested = False
        if self._fd is None:
            self._open()
        if not self.rotate_size or self._size + len(data) <= self.rotate_size:
            self._write_group(data, 0)
            self._sync()
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
        self._sync()

    def _sync(self) -> None:
        if self.fsync and self._fd is not None:
            os.fsync(self._fd)

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

    async def reset(self) -> None:
        self._close_fd()

    async def close(self) -> None:
        self._close_fd()
