"""Where the receiver is in a followed file: saved after each accepted batch.

A checkpoint names the file by device + inode *and* a fingerprint of its first bytes, so a
rotated file is found again under its new name, and a truncated or replaced file (or a
re-used inode) is recognised as new content rather than resumed at a stale offset.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from hangar_otelcol.statedir import safe_name, state_dir

VERSION = 1


@dataclass(frozen=True)
class Position:
    """A byte offset in one file (identity + fingerprint of its first ``fp_len`` bytes)."""

    dev: int
    ino: int
    offset: int
    fp_len: int
    fp_hash: str

    @property
    def identity(self) -> tuple[int, int]:
        return self.dev, self.ino


def fingerprint(fd: int, length: int) -> tuple[int, str]:
    """(bytes hashed, sha256 hex) of the first ``length`` bytes of an open file (fewer if
    the file is shorter)."""
    data = os.pread(fd, length, 0) if length > 0 else b""
    return len(data), hashlib.sha256(data).hexdigest()


def matches(fd: int, fp_len: int, fp_hash: str) -> bool:
    """True if the file still starts with the bytes the fingerprint was taken of."""
    got_len, got_hash = fingerprint(fd, fp_len)
    return got_len == fp_len and got_hash == fp_hash


def load(path: Path) -> tuple[str, Position] | None:
    """(followed path, position) from a checkpoint file; None if there is none.

    Raises ValueError with a readable message for a corrupt file.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        if data.get("version") != VERSION:
            raise ValueError(f"unknown checkpoint version {data.get('version')!r}")
        pos = Position(int(data["dev"]), int(data["ino"]), int(data["offset"]),
                       int(data["fp_len"]), str(data["fp_hash"]))
        return str(data["path"]), pos
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"checkpoint {path} is unreadable ({exc})") from exc


def save(path: Path, followed: str, pos: Position) -> None:
    """Atomically replace the checkpoint: a crash leaves the old or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = {"version": VERSION, "path": followed, **asdict(pos)}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(data).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename durable; not possible everywhere
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def default_path(component_id: str, followed: str) -> Path:
    """In the state directory (``hangar_otelcol.statedir``); one file per receiver id and
    followed path."""
    digest = hashlib.sha256(os.path.abspath(followed).encode()).hexdigest()[:12]
    return Path(state_dir()) / f"hangar_audit_log-{safe_name(component_id)}-{digest}.json"
