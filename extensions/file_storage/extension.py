"""The file_storage extension: one SQLite database shared by the components that name it."""

from __future__ import annotations

import contextlib
import fcntl
import os

from hangar_otelcol.component import CreateSettings, Host
from hangar_otelcol.extensions.file_storage.config import FileStorageConfig
from hangar_otelcol.multiprocess import worker_index
from hangar_otelcol.statedir import safe_name, state_dir
from hangar_otelcol.storage.sqlite import SqliteDB
from hangar_otelcol.storage.sqlite_storage import SCHEMA, SqliteClient, SqliteStorage


class FileStorage:
    def __init__(self, settings: CreateSettings, config: FileStorageConfig) -> None:
        self.settings = settings
        self.config = config
        directory = config.directory or state_dir()
        self.path = os.path.join(directory, f"{safe_name(str(settings.id))}.db")
        self.db = SqliteDB(self.path, fsync=config.fsync, max_bytes=int(config.max_size),
                           busy_timeout=float(config.timeout), schema=SCHEMA)
        self._storage = SqliteStorage(self.db)
        self._lock_fd: int | None = None
        settings.telemetry.gauge("otelcol_extension_file_storage_commits",
                                 "Transactions committed (many writes share one)",
                                 lambda: float(self.db.commits))

    def client(self, owner: str) -> SqliteClient:
        """``owner``'s queues and state; each worker of a gateway has its own
        (``owner#w<index>``) in the shared file."""
        return self._storage.client(f"{owner}#w{worker_index()}")

    async def start(self, host: Host) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self._lock()
        await self.db.open()
        os.chmod(self.path, 0o600)  # it holds telemetry that may be personal data

    def _lock(self) -> None:
        """One gateway (one worker index) per state: a second one started on the same
        directory would send what the first has queued, twice."""
        path = f"{self.path}.w{worker_index()}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OSError(f"{self.path} is in use by another gateway process (pid {holder}); "
                          "give each gateway its own state directory") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    async def shutdown(self) -> None:
        await self.db.close()
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
