"""Summarize a py-spy ``--format raw`` (collapsed stacks) profile as two short tables.

    python -m bench.profile_summary bench/profiles/NAME.txt > bench/profiles/NAME.summary.txt

"self" = samples whose innermost frame is the function; "total" = samples with the
function anywhere on the stack (counted once per sample). Line numbers are dropped, so a
function's lines add up.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^():]+?)(?::\d+)?\)$")


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{m.group('fn')} ({path})"


def summarize(text: str, top: int = 30) -> str:
    self_c: Counter[str] = Counter()
    total_c: Counter[str] = Counter()
    samples = 0
    idle = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += n
        names = [_name(f) for f in frames]
        if "run_forever" in names[-1] or "select" in names[-1] or "_run_once" in names[-1]:
            idle += n
        self_c[names[-1]] += n
        for name in set(names):
            total_c[name] += n
    if not samples:
        return "no samples\n"
    out = [f"{samples} samples (py-spy, all threads, idle event-loop frames included: "
           f"{100 * idle / samples:.1f}%)", "", "self %  function (innermost frame)"]
    out += [f"{100 * c / samples:6.1f}  {name}" for name, c in self_c.most_common(top)]
    out += ["", "total % function (anywhere on the stack)"]
    out += [f"{100 * c / samples:6.1f}  {name}" for name, c in total_c.most_common(top)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        sys.stdout.write(summarize(f.read(), int(sys.argv[2]) if len(sys.argv) > 2 else 30))
