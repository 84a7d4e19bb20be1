"""Issue 5 "done when": killing (SIGKILL) and restarting the gateway while it follows a hangar
1.1.0 log file neither loses nor repeats an audit record.

The real gateway runs as a subprocess (``python -m hangar_otelcol``) and is SIGKILLed four
times while a writer appends audit lines (hangar's own format) to the file; lines keep
coming while it is down, and the file is rotated once while it is down. Everything the
gateway delivers goes to a real gRPC OTLP sink. The pipeline delivers synchronously (no
batch processor, no sending queue), so "accepted" means "arrived at the sink", and the
checkpoint is written right after that.

Each kill lands once the gateway has delivered what was written so far. A kill in the few
milliseconds between the sink receiving a batch and the gateway writing its checkpoint
would repeat that batch on restart; no receiver can close that window without an
idempotent downstream (this is at-least-once delivery), so the test does not aim at it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from pathlib import Path

from hangar_otelcol.testing import free_port
from tests.receivers.hangar_audit_log.helpers import audit_line
from tests.support import configs
from tests.support.gateway import GatewayProcess
from tests.support.otlp import attrs
from tests.support.sinks import GrpcSink
from tests.support.waiting import eventually

CONFIG = configs.gateway(
    {"logs": {"receivers": ["hangar_audit_log"], "exporters": ["otlp"]}},
    receivers={"hangar_audit_log": {"path": "{log}", "checkpoint_path": "{ckpt}",
                                    "poll_interval": "20ms", "batch_timeout": "20ms",
                                    "max_batch_lines": 7}},
    exporters={"otlp": configs.otlp_out("{sink}", sending_queue={"enabled": False})})

TOTAL = 400


def _seqs(sink: GrpcSink) -> Counter:
    found = (attrs(rec) for _, _, rec in sink.records("logs"))
    return Counter(a["seq"] for a in found if "seq" in a)


class Writer:
    """Appends audit lines in hangar's format in small bursts, as hangar would."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.n = 0
        self.rng = random.Random(5)

    def burst(self) -> None:
        size = min(self.rng.randint(1, 9), TOTAL - self.n)
        with self.log.open("a") as f:
            f.write("".join(audit_line(i) for i in range(self.n, self.n + size)))
            if self.rng.random() < 0.2:
                f.write("a line that is not JSON\n")
        self.n += size

    def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.n < TOTAL and time.monotonic() < deadline:
            self.burst()
            time.sleep(self.rng.uniform(0.0, 0.02))

    def rotate(self) -> None:
        os.rename(self.log, self.log.parent / "hangar.log.1")


async def test_sigkill_and_restart_neither_lose_nor_repeat(tmp_path: Path) -> None:
    sink = await GrpcSink().start()
    log = tmp_path / "hangar.log"
    log.write_text("")
    health = free_port()
    config = configs.write(tmp_path / "gw.yaml", CONFIG, health=health, log=log,
                           ckpt=tmp_path / "ckpt.json", sink=sink.port)
    gw = GatewayProcess(config, health, tmp_path / "gw.stderr")
    writer = Writer(log)
    rng = random.Random(11)

    def caught_up() -> bool:
        """Everything written was delivered and the checkpoint says so (the gateway is idle:
        a kill now tests the checkpoint, not the in-flight window described above)."""
        try:
            ckpt = json.loads((tmp_path / "ckpt.json").read_text())
            st = log.stat()
        except (OSError, ValueError):
            return False
        return (len(_seqs(sink)) >= writer.n and ckpt["ino"] == st.st_ino
                and ckpt["offset"] == st.st_size)

    try:
        await asyncio.to_thread(gw.start)
        for kill in range(4):
            # lines keep coming while the gateway runs ...
            await asyncio.to_thread(writer.run_for, rng.uniform(0.1, 0.3))
            # ... it takes in what was written, then dies without any warning ...
            await eventually(caught_up, 20, "the gateway to catch up", interval=0.05)
            await asyncio.to_thread(gw.kill)
            # ... while hangar writes on (and once rotates its log) ...
            await asyncio.to_thread(writer.run_for, rng.uniform(0.05, 0.2))
            if kill == 1:
                writer.rotate()
                await asyncio.to_thread(writer.run_for, 0.05)
            await asyncio.to_thread(gw.start)
        await asyncio.to_thread(writer.run_for, 30)
        await eventually(caught_up, 20, "every line", interval=0.05)
        assert gw.stop() == 0, gw.stderr()
    finally:
        gw.kill()  # still running only if the test failed
        await sink.stop()
    seen = _seqs(sink)
    missing = sorted(set(range(TOTAL)) - set(seen))
    repeated = sorted(s for s, c in seen.items() if c > 1)
    assert gw.starts == 5
    assert not missing, f"lost {len(missing)} records, first {missing[:10]}\n{gw.stderr()}"
    assert not repeated, f"repeated {len(repeated)} records, first {repeated[:10]}"
    assert "resuming" in gw.stderr()  # each restart really resumed from the checkpoint
