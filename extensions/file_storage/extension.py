"""The file_storage extension: one SQLite database shared by the components that name it."""

from __future__ import annotations

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
        settings.telemetry.gauge("otelcol_extension_file_storage_commits",
                                 "Transactions committed (many writes share one)",
                                 lambda: float(self.db.commits))

    def client(self, owner: str) -> SqliteClient:
        """``owner``'s queues and state; each worker of a gateway has its own
        (``owner#w<index>``) in the shared file."""
        return self._storage.client(f"{owner}#w{worker_index()}")

    async def start(self, host: Host) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        await self.db.open()
        os.chmod(self.path, 0o600)  # it holds telemetry that may be personal data

    async def shutdown(self) -> None:
        await self.db.close()
