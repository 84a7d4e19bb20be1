"""Issue 5 "done when": killing (SIGKILL) and restarting the gateway while it follows a hangar
1.1.0 log file neither loses nor repeats an audit record.

The real gateway runs as a subprocess (``python -m hangar_otelcol``) and is SIGKILLed at
random moments while a writer appends audit lines (hangar's own format) to the file and
rotates it once; everything the gateway delivers goes to a real gRPC OTLP sink. The
pipeline delivers synchronously (no batch processor, no sending queue), so "accepted by the
consumer" means "arrived at the sink" and the checkpoint is written only after that.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
from collections import Counter
from pathlib import Path

from hangar_otelcol.pdata import Signal, decode
from hangar_otelcol.testing import free_port
from tests.e2e.gateway import Sink
from tests.hangar.gateway_proc import GatewayProcess
from tests.receivers_hangar_audit_log.helpers import audit_line

CONFIG = """
extensions: {{health_check: {{endpoint: "127.0.0.1:{health}"}}}}
receivers:
  hangar_audit_log:
    path: "{log}"
    checkpoint_path: "{ckpt}"
    poll_interval: 20ms
    batch_timeout: 20ms
    max_batch_lines: 7
exporters:
  otlp:
    endpoint: "127.0.0.1:{sink}"
    tls: {{insecure: true}}
    sending_queue: {{enabled: false}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    logs: {{receivers: [hangar_audit_log], exporters: [otlp]}}
"""

TOTAL = 400


def _seqs(sink: Sink) -> Counter:
    seen: Counter = Counter()
    for wire in sink.requests["logs"]:
        part = decode(Signal.LOGS, wire)
        for rl in part.message.resource_logs:
            for sl in rl.scope_logs:
                for rec in sl.log_records:
                    for kv in rec.attributes:
                        if kv.key == "seq":
                            seen[kv.value.int_value] += 1
    return seen


def _writer(log: Path, stop: threading.Event) -> None:
    """Appends TOTAL lines in small bursts, as hangar would; rotates the file half-way."""
    rng = random.Random(5)
    n = 0
    while n < TOTAL and not stop.is_set():
        burst = min(rng.randint(1, 9), TOTAL - n)
        with log.open("a") as f:
            f.write("".join(audit_line(i) for i in range(n, n + burst)))
            if rng.random() < 0.2:
                f.write("a line that is not JSON\n")
        n += burst
        if n >= TOTAL // 2 and not (log.parent / "hangar.log.1").exists():
            os.rename(log, log.parent / "hangar.log.1")
        stop.wait(rng.uniform(0.0, 0.03))


async def test_sigkill_and_restart_neither_lose_nor_repeat(tmp_path: Path) -> None:
    sink = Sink(free_port())
    await sink.start()
    log = tmp_path / "hangar.log"
    log.write_text("")
    health = free_port()
    config = tmp_path / "gw.yaml"
    config.write_text(CONFIG.format(health=health, log=log, ckpt=tmp_path / "ckpt.json",
                                    sink=sink.port))
    gw = GatewayProcess(config, health, tmp_path / "gw.stderr")
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(log, stop), daemon=True)
    rng = random.Random(11)
    try:
        await asyncio.to_thread(gw.start)
        writer.start()
        for _ in range(4):  # kill at random moments while lines keep coming
            await asyncio.sleep(rng.uniform(0.1, 0.4))
            await asyncio.to_thread(gw.kill)
            await asyncio.sleep(rng.uniform(0.0, 0.2))
            await asyncio.to_thread(gw.start)
        await asyncio.to_thread(writer.join, 30)
        for _ in range(200):  # bounded: at most ~20 s
            if len(_seqs(sink)) >= TOTAL:
                break
            await asyncio.sleep(0.1)
        assert gw.stop() == 0, gw.stderr()
    finally:
        stop.set()
        if gw.process is not None and gw.process.poll() is None:
            gw.process.kill()
        await sink.stop()
    seen = _seqs(sink)
    missing = sorted(set(range(TOTAL)) - set(seen))
    repeated = sorted(s for s, c in seen.items() if c > 1)
    assert gw.starts == 5
    assert not missing, f"lost {len(missing)} records, first {missing[:10]}\n{gw.stderr()}"
    assert not repeated, f"repeated {len(repeated)} records, first {repeated[:10]}"
    assert "resuming" in gw.stderr()  # each restart really resumed from the checkpoint
