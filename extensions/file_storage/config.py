"""Config of the ``file_storage`` extension."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hangar_otelcol.config.types import ByteSize, Duration


@dataclass
class FileStorageConfig:
    #: where the database file lives; empty: the state directory ($HANGAR_OTELCOL_STATE_DIR,
    #: else $XDG_STATE_HOME/hangar-otelcol, else ~/.local/state/hangar-otelcol)
    directory: str = ""
    #: fsync every commit: what was accepted also survives a power loss or an OS crash.
    #: Without it, it survives the gateway being killed (the OS has the data).
    fsync: bool = False
    #: largest size of the database file; 0 = as large as the disk allows. When full, new
    #: data is refused with a retryable answer (nothing already accepted is dropped)
    max_size: ByteSize = ByteSize(0)
    #: how long a write waits for another process (a worker) holding the file's write lock
    timeout: Duration = Duration(30.0)

    def validate(self) -> list[str]:
        errors = []
        if self.directory and os.path.exists(self.directory) and \
                not os.path.isdir(self.directory):
            errors.append(f"directory: {self.directory} exists and is not a directory")
        if self.max_size and self.max_size < 1024 * 1024:
            errors.append("max_size: must be 0 (no limit) or at least 1MiB")
        return errors
