"""An exporter on a real file_storage (SQLite in a temporary state directory), started,
stopped cleanly or "killed" (no shutdown, no last checkpoint), and started again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hangar_otelcol.component import Factory, Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.extensions.file_storage.config import FileStorageConfig
from hangar_otelcol.extensions.file_storage.extension import FileStorage
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings


class DurableExporter:
    def __init__(self, factory: Factory, state: Path, raw: dict[str, Any],
                 storage: dict[str, Any] | None = None) -> None:
        self.telemetry = Telemetry()
        self.storage = FileStorage(
            make_settings(Kind.EXTENSION, "file_storage", self.telemetry),
            build(FileStorageConfig, {"directory": str(state), **(storage or {})}))
        queue = {"storage": "file_storage", **raw.pop("sending_queue", {})}
        config = build(factory.config_class, {**raw, "sending_queue": queue},
                       f"exporters.{factory.type}")
        self.exporter: Any = factory.create(
            make_settings(Kind.EXPORTER, factory.type, self.telemetry), config)
        self.host = StandaloneHost({"file_storage": self.storage})

    async def start(self) -> DurableExporter:
        await self.storage.start(self.host)
        await self.exporter.start(self.host)
        return self

    async def kill(self) -> None:
        """What SIGKILL leaves: no shutdown, no last checkpoint (only committed data)."""
        for task in self.exporter._consumers:
            task.cancel()
        if self.exporter._checkpointer is not None:
            self.exporter._checkpointer.cancel()
        await self.exporter.close()  # the listeners go away with the process
        await self.storage.shutdown()

    async def stop(self) -> None:
        await self.exporter.shutdown()
        await self.storage.shutdown()
