"""Follow a growing log file across rotation and truncation (``tail -F`` with positions).

Polling, not inotify: it works the same on every file system (including bind mounts and
NFS), needs no extra dependency, and an audit log's rate makes a 200 ms poll cheap.

- Rotation by rename (logrotate ``create``, Python's RotatingFileHandler): when the path
  names another file, the old one is read to its end first (hangar may still write to its
  open descriptor for a moment, so the switch waits for one quiet poll), then the new file
  is read from its start.
- Truncation (logrotate ``copytruncate``, ``: > file``): the file is shorter than what was
  read, or its first bytes changed: it is read again from the start.
- Each line carries the ``Position`` just after it, which the receiver checkpoints once the
  batch holding that line was accepted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from hangar_otelcol.receivers.hangar_audit_log.checkpoint import Position, fingerprint, matches

READ_CHUNK = 256 * 1024


@dataclass
class Line:
    data: bytes  # without the line terminator
    end: Position  # just after this line
    too_long: bool = False


class _Open:
    """One open file being read."""

    def __init__(self, fd: int, name: str, offset: int, fp_size: int) -> None:
        st = os.fstat(fd)
        self.fd = fd
        self.name = name
        self.dev, self.ino = st.st_dev, st.st_ino
        self.read_pos = offset  # file offset of the next byte to read
        self.buf = b""  # bytes read but not yet a complete line
        self.skipping = False  # inside an over-long line: drop bytes up to the next newline
        self.fp_size = fp_size
        self.fp_len, self.fp_hash = fingerprint(fd, fp_size)

    @property
    def identity(self) -> tuple[int, int]:
        return self.dev, self.ino

    def position(self, offset: int) -> Position:
        return Position(self.dev, self.ino, offset, self.fp_len, self.fp_hash)

    def refresh_fingerprint(self) -> bool:
        """Grow the fingerprint while the file is shorter than fp_size; False if the bytes
        it was taken of have changed (the file was truncated or rewritten)."""
        if not matches(self.fd, self.fp_len, self.fp_hash):
            return False
        if self.fp_len < self.fp_size:
            self.fp_len, self.fp_hash = fingerprint(self.fd, self.fp_size)
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class FileFollower:
    """Reads complete lines from ``path``; call ``read_lines`` from one task."""

    def __init__(self, path: str, *, fingerprint_size: int, max_line_size: int,
                 notice: Callable[[str, str], None]) -> None:
        self.path = path
        self.fp_size = fingerprint_size
        self.max_line = max_line_size
        #: notice(kind, message): kind is "rotated", "truncated", "missing", "resumed", ...
        self.notice = notice
        self.current: _Open | None = None
        #: set when the path names a newer file but the current one may still grow
        self._switch_pending = False
        self._missing_reported = False

    # -- start ---------------------------------------------------------------------------

    def start(self, saved: Position | None, start_at_end: bool) -> None:
        """Open the file where the checkpoint says, or at its start/end if there is none."""
        if saved is not None:
            self._resume(saved)
            return
        fd = self._open(self.path)
        if fd is None:
            return  # opened when it appears, from its start
        offset = os.fstat(fd).st_size if start_at_end else 0
        self.current = _Open(fd, self.path, offset, self.fp_size)

    def _resume(self, saved: Position) -> None:
        fd = self._open(self.path)
        if fd is not None:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == saved.identity:
                if st.st_size >= saved.offset and matches(fd, saved.fp_len, saved.fp_hash):
                    self.current = _Open(fd, self.path, saved.offset, self.fp_size)
                    self.notice("resumed", f"resuming {self.path} at byte {saved.offset}")
                    return
                self.notice("truncated", f"{self.path} was truncated or rewritten since the "
                            "checkpoint; reading it from the start")
                self.current = _Open(fd, self.path, 0, self.fp_size)
                return
        rotated = self._find_rotated(saved)
        if rotated is not None:
            rfd, name = rotated
            self.current = _Open(rfd, name, saved.offset, self.fp_size)
            self._switch_pending = True
            self.notice("resumed", f"{self.path} was rotated to {name} since the checkpoint; "
                        f"reading its rest from byte {saved.offset}, then {self.path}")
            if fd is not None:
                os.close(fd)
            return
        if fd is not None:
            self.notice("rotated", f"{self.path} is a new file and the checkpointed one is "
                        "gone; reading the new file from the start")
            self.current = _Open(fd, self.path, 0, self.fp_size)

    def _find_rotated(self, saved: Position) -> tuple[int, str] | None:
        """The checkpointed file under another name in the same directory (x.log.1, ...)."""
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return None
        for name in names:
            full = os.path.join(directory, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) != saved.identity or st.st_size < saved.offset:
                continue
            fd = self._open(full)
            if fd is None:
                continue
            if matches(fd, saved.fp_len, saved.fp_hash):
                return fd, full
            os.close(fd)
        return None

    def _open(self, name: str) -> int | None:
        try:
            fd = os.open(name, os.O_RDONLY)
        except FileNotFoundError:
            if not self._missing_reported:
                self.notice("missing", f"{name} does not exist yet; waiting for it")
                self._missing_reported = True
            return None
        except OSError as exc:
            self.notice("error", f"cannot open {name}: {exc.strerror}")
            return None
        self._missing_reported = False
        return fd

    # -- reading ---------------------------------------------------------------------------

    def read_lines(self, limit: int) -> list[Line]:
        """Up to ``limit`` complete lines that were appended since the last call."""
        if self.current is None:
            fd = self._open(self.path)
            if fd is None:
                return []
            self.current = _Open(fd, self.path, 0, self.fp_size)
        cur = self.current
        self._check_truncation(cur)
        lines: list[Line] = []
        got_data = self._fill(cur, lines, limit)
        if not got_data and len(lines) < limit:
            self._check_rotation(cur, lines)
        return lines

    def _check_truncation(self, cur: _Open) -> None:
        try:
            size = os.fstat(cur.fd).st_size
        except OSError:
            return
        if size < cur.read_pos or not cur.refresh_fingerprint():
            self.notice("truncated", f"{cur.name} was truncated; reading it from the start")
            cur.read_pos, cur.buf, cur.skipping = 0, b"", False
            cur.fp_len, cur.fp_hash = fingerprint(cur.fd, self.fp_size)

    def _fill(self, cur: _Open, lines: list[Line], limit: int) -> bool:
        """Read and split; returns True if any bytes were read."""
        got = False
        while len(lines) < limit:
            data = os.pread(cur.fd, READ_CHUNK, cur.read_pos)
            if not data:
                break
            got = True
            buf_start = cur.read_pos - len(cur.buf)
            cur.read_pos += len(data)
            buf = cur.buf + data
            start = 0
            while len(lines) < limit:
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                end = buf_start + nl + 1
                if cur.skipping:  # the tail of an over-long line
                    cur.skipping = False
                elif nl - start > self.max_line:
                    lines.append(Line(buf[start:start + 200], cur.position(end), too_long=True))
                else:
                    lines.append(Line(buf[start:nl].rstrip(b"\r"), cur.position(end)))
                start = nl + 1
            rest = buf[start:]
            if len(lines) >= limit and b"\n" in rest:
                # stop here; unread lines are read again next call
                cur.read_pos -= len(rest)
                rest = b""
            if len(rest) > self.max_line:
                # count it once and drop bytes up to the next newline
                if not cur.skipping:
                    lines.append(Line(rest[:200], cur.position(cur.read_pos), too_long=True))
                cur.skipping = True
                rest = b""
            cur.buf = rest
        return got

    def _check_rotation(self, cur: _Open, lines: list[Line]) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # renamed away, no new file yet: keep reading the old one
        except OSError:
            return
        if (st.st_dev, st.st_ino) == cur.identity:
            self._switch_pending = False
            return
        if not self._switch_pending:
            self._switch_pending = True  # one more quiet poll of the old file first
            return
        fd = self._open(self.path)
        if fd is None:
            return
        if cur.buf and not cur.skipping:  # the old file's last line had no newline
            lines.append(Line(cur.buf.rstrip(b"\r"), cur.position(cur.read_pos)))
        self.notice("rotated", f"{self.path} was rotated; reading the new file")
        cur.close()
        self.current = _Open(fd, self.path, 0, self.fp_size)
        self._switch_pending = False

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
