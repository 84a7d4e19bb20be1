"""Series of several worker processes, merged at scrape time.

With ``workers: N`` every process counts its own share of the traffic. Each one writes
its cumulative series, about once a second and when it stops, into files of
prometheus-client's multiprocess mode (one ``MmapedDict`` per worker and metric type in
a directory the supervisor creates); whoever serves a scrape merges every worker's file
with ``MultiProcessCollector.merge``: counters and histogram buckets are summed, gauges
are summed over the live workers.

The counters themselves stay plain dicts (bench/README.md: a dict increment
is ~25x cheaper than a prometheus-client ``inc()`` on an mmap value); only the periodic
flush touches the files.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

#: directory shared by the workers of one gateway (set by the supervisor, workers.py)
SHARED_DIR_ENV = "HANGAR_OTELCOL_SHARED_DIR"
#: this worker's index (0..N-1) and the number of workers, set by the supervisor; the CLI
#: never starts workers of its own when WORKER_ENV is set
WORKER_ENV = "HANGAR_OTELCOL_WORKER"
WORKERS_ENV = "HANGAR_OTELCOL_WORKERS"
#: how often a worker writes its series for the others; a scrape sees the other workers'
#: counts at most this old
FLUSH_INTERVAL_S = 1.0


def shared_dir() -> str | None:
    """The shared directory if this process is one of several workers, else None."""
    directory = os.environ.get(SHARED_DIR_ENV)
    if not directory or int(os.environ.get(WORKERS_ENV, "1") or 1) < 2:
        return None
    if WORKER_ENV not in os.environ or not os.path.isdir(directory):
        return None
    return directory


def worker_index() -> int:
    return int(os.environ.get(WORKER_ENV, "0") or 0)


def _file_safe(group: str) -> str:
    # "_" separates the metric type (and gauge mode) from the rest of the file name
    return re.sub(r"[^A-Za-z0-9.-]", "-", group)


class SeriesFiles:
    """This worker's series of one group (an exporter, the self-metrics) in ``directory``."""

    def __init__(self, directory: str, group: str, worker: int) -> None:
        self._directory = directory
        # file names are "<type>_<group>-w<worker>.db"; prometheus-client reads the type
        # before the first "_" (and, for gauges, the mode and an id after the next ones)
        self._group = _file_safe(group)
        self._worker = worker
        self._files: dict[str, MmapedDict] = {}
        self._keys: dict[tuple[Any, ...], str] = {}

    def _file(self, prefix: str) -> MmapedDict:
        f = self._files.get(prefix)
        if f is None:
            path = os.path.join(self._directory,
                                f"{prefix}_{self._group}-w{self._worker}.db")
            f = self._files[prefix] = MmapedDict(path)
        return f

    def _key(self, name: str, sample: str, labelnames: Sequence[str],
             labelvalues: Sequence[str], help_text: str) -> str:
        cache_key = (sample, tuple(labelnames), tuple(labelvalues))
        key = self._keys.get(cache_key)
        if key is None:
            key = self._keys[cache_key] = mmap_key(name, sample, list(labelnames),
                                                   list(labelvalues), help_text)
        return key

    def write_counter(self, name: str, help_text: str, labelnames: Sequence[str],
                      values: dict[tuple[str, ...], float]) -> None:
        f = self._file("counter")
        sample = f"{name}_total"
        for labels, value in list(values.items()):
            f.write_value(self._key(name, sample, labelnames, labels, help_text), value, 0.0)

    def write_histogram(self, name: str, help_text: str, labelnames: Sequence[str],
                        bounds: Sequence[float],
                        rows: dict[tuple[str, ...], list[float]]) -> None:
        """``rows``: label values -> [count per bucket (not cumulative, +Inf last), sum]."""
        f = self._file("histogram")
        names = [*labelnames, "le"]
        les = [floatToGoString(b) for b in (*bounds, float("inf"))]
        for labels, row in list(rows.items()):
            for le, count in zip(les, row[:-1], strict=True):
                f.write_value(self._key(name, f"{name}_bucket", names, (*labels, le),
                                        help_text), count, 0.0)
            f.write_value(self._key(name, f"{name}_sum", labelnames, labels, help_text),
                          row[-1], 0.0)

    def write_gauge(self, name: str, help_text: str, labelnames: Sequence[str],
                    values: dict[tuple[str, ...], float]) -> None:
        """A gauge summed over the workers that are alive (prometheus-client 'livesum')."""
        f = self._file("gauge_livesum")
        for labels, value in values.items():
            f.write_value(self._key(name, name, labelnames, labels, help_text), value, 0.0)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


def merged(directory: str, group: str) -> Iterable[Any]:
    """Every worker's series of ``group``, merged (prometheus-client Metric objects)."""
    files = sorted(glob.glob(os.path.join(directory, f"*_{_file_safe(group)}-w*.db")))
    return MultiProcessCollector.merge(files, accumulate=True)


class MergedCollector:
    """A prometheus-client collector of every worker's series of ``group``: this process
    writes its own first (``write(files)``), so a scrape is current for it."""

    def __init__(self, write: Callable[[SeriesFiles], None], files: SeriesFiles,
                 directory: str, group: str) -> None:
        self._write = write
        self._files = files
        self._directory = directory
        self._group = group

    def collect(self) -> Iterable[Any]:
        self._write(self._files)
        return merged(self._directory, self._group)


async def flush_every(write: Callable[[SeriesFiles], None], files: SeriesFiles,
                      interval: float = FLUSH_INTERVAL_S) -> None:
    """Write this worker's series every ``interval`` seconds (a task; cancel to stop)."""
    while True:
        await asyncio.sleep(interval)
        write(files)
