"""The exporter helper, shared by every exporter (the Collector's exporterhelper):
config keys, errors, the sending queue, backoff and the helper itself."""

from hangar_otelcol.exporterhelper.backoff import Backoff
from hangar_otelcol.exporterhelper.config import (
           HelperConfig,
           HelperSettings,
           QueueConfig,
           RetryConfig,
)
from hangar_otelcol.exporterhelper.errors import ExportError, QueueFullError
from hangar_otelcol.exporterhelper.helper import ExporterHelper, SendFunc
from hangar_otelcol.exporterhelper.queue import MemoryQueue, QueueItem, SendingQueue

__all__ = ["Backoff", "ExportError", "ExporterHelper", "HelperConfig", "HelperSettings",
           "MemoryQueue", "QueueConfig", "QueueFullError", "QueueItem", "RetryConfig",
           "SendFunc", "SendingQueue"]
