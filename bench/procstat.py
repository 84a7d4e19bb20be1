"""CPU time and peak memory of a process tree, read from /proc (Linux only).

CPU is utime+stime of every thread of the process (``/proc/<pid>/stat`` sums its
threads) plus every live descendant, so a ``workers: N`` gateway is measured whole.
Peak RSS is ``VmHWM`` (the high-water mark since the process started).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds; 0 if it is gone."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return 0.0
    # the command name may contain spaces and parentheses: split after the last ')'
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from every thread's ``children`` file)."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        text = _read(f"/proc/{pid}/task/{tid}/children")
        if text:
            out.extend(int(c) for c in text.split())
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    pids, todo = [], [pid]
    while todo and len(pids) < 1000:
        p = todo.pop()
        pids.append(p)
        todo.extend(children(p))
    return pids


def peak_rss_bytes(pid: int) -> int:
    text = _read(f"/proc/{pid}/status")
    if text is None:
        return 0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class TreeSample:
    cpu: dict[int, float]

    @property
    def total(self) -> float:
        return sum(self.cpu.values())


def sample(pid: int) -> TreeSample:
    return TreeSample({p: cpu_seconds(p) for p in tree(pid)})


def cpu_between(before: TreeSample, after: TreeSample) -> float:
    """CPU seconds the tree used between two samples (processes that started in between
    count from zero; processes that ended in between are lost, which only happens if a
    worker dies during a window)."""
    return sum(c - before.cpu.get(p, 0.0) for p, c in after.cpu.items())


def peak_rss_tree(pid: int) -> tuple[int, int]:
    """(largest VmHWM of one process in the tree, number of processes)."""
    pids = tree(pid)
    return max((peak_rss_bytes(p) for p in pids), default=0), len(pids)
