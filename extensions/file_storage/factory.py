"""Factory of the ``file_storage`` extension."""

from __future__ import annotations

from hangar_otelcol.component import Stability, extension_factory
from hangar_otelcol.extensions.file_storage.config import FileStorageConfig
from hangar_otelcol.extensions.file_storage.extension import FileStorage
from hangar_otelcol.storage import CAPABILITY

FACTORY = extension_factory(
    "file_storage", FileStorageConfig, FileStorage, Stability.BETA,
    provides=frozenset({CAPABILITY}),
    description="persistent sending queues and component state in one SQLite file (WAL, "
                "group commit, optional fsync, size limit)")
