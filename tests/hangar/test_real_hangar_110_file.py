"""Issue 5 "done when": killing (SIGKILL) and restarting the gateway while it follows a real
hangar 1.1.0 log file neither loses nor repeats an audit record.

hangar 1.1.0 (from PyPI, unmodified) writes its stderr to a file; the gateway follows it with
a checkpoint and delivers synchronously to a gRPC sink (no batch processor, no sending queue).
The gateway is killed while the client's calls are running and started again; at the end the
sink holds each of hangar's audit records exactly once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from hangar_otelcol.testing import free_port
from tests.hangar import hangars
from tests.support import configs
from tests.support.gateway import GatewayProcess
from tests.support.otlp import attrs
from tests.support.sinks import GrpcSink
from tests.support.waiting import eventually

pytestmark = [pytest.mark.hangar, pytest.mark.usefixtures("hangar_venvs")]

def config(**audit_log: str) -> str:
    return configs.gateway(
        {"logs": {"receivers": ["hangar_audit_log"], "exporters": ["otlp"]}},
        receivers={"hangar_audit_log": {"path": "{log}", "checkpoint_path": "{ckpt}",
                                        **audit_log}},
        exporters={"otlp": configs.otlp_out("{sink}", sending_queue={"enabled": False})})


def _key(attrs: dict, time_unix_nano: int) -> tuple:
    return (time_unix_nano, attrs.get("mcp.event.name"), attrs.get("mcp.tool.name"),
            attrs.get("mcp.server.state"))


def delivered(sink: GrpcSink) -> Counter:
    return Counter(_key(attrs(rec), rec.time_unix_nano) for _, _, rec in sink.records("logs"))


def written(stderr: Path) -> Counter:
    """hangar's own audit_event lines, keyed like the delivered records."""
    from hangar_otelcol.receivers.hangar_audit_log.convert import parse_timestamp

    out: Counter = Counter()
    for line in stderr.read_text().splitlines():
        if '"audit_event"' in line:
            d = json.loads(line)
            out[_key(d, parse_timestamp(d["timestamp"]))] += 1
    return out


async def test_kill_and_restart_while_following_hangar_110(tmp_path: Path) -> None:
    sink = await GrpcSink().start()
    ports = {k: free_port() for k in ("health", "hangar")}
    hangar = hangars.HangarProcess("1.1.0", tmp_path / "hangar", ports["hangar"], {
        # 1.1.0 writes audit_event lines only when an OTLP endpoint is configured
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
    path = configs.write(tmp_path / "gateway.yaml", config(service_version="1.1.0"),
                         health=ports["health"], log=hangar.stderr_path,
                         ckpt=tmp_path / "ckpt.json", sink=sink.port)
    gateway = GatewayProcess(path, ports["health"], tmp_path / "gateway.stderr")
    try:
        hangar.start()
        await asyncio.to_thread(gateway.start)
        await asyncio.to_thread(hangar.wait_healthy)
        ckpt = tmp_path / "ckpt.json"

        def idle(records: int) -> bool:
            """``records`` delivered and the checkpoint at the end of the file: a kill now
            tests the checkpoint, not the milliseconds between delivery and checkpoint (a
            kill there repeats that batch: at-least-once, see test_kill_restart.py)."""
            try:
                offset = json.loads(ckpt.read_text())["offset"]
            except (OSError, ValueError, KeyError):
                return False
            return (sum(delivered(sink).values()) >= records
                    and offset == hangar.stderr_path.stat().st_size)

        client = asyncio.create_task(asyncio.to_thread(hangars.drive, ports["hangar"]))
        # first kill once the cold start was reported, second one while calls go on
        await eventually(lambda: idle(2), 60, "the first audit records", interval=0.05)
        await asyncio.to_thread(gateway.kill)
        await asyncio.sleep(1.0)  # calls made meanwhile only reach the file
        await asyncio.to_thread(gateway.start)
        await eventually(lambda: idle(4), 60, "more audit records", interval=0.05)
        await asyncio.to_thread(gateway.kill)
        await asyncio.to_thread(gateway.start)
        await client
        hangar.stop()
        want = written(hangar.stderr_path)
        await eventually(lambda: len(delivered(sink)) >= len(want), 30,
                         f"{len(want)} audit records", interval=0.05)
        assert await asyncio.to_thread(gateway.stop) == 0, gateway.stderr()
    finally:
        hangar.stop()
        gateway.kill()  # still running only if the test failed
        await sink.stop()
    got = delivered(sink)
    assert sum(want.values()) == 8 and max(want.values()) == 1  # 6 calls + 2 state changes
    assert got == want, f"delivered {got}\nwritten {want}\n{gateway.stderr()}"
    assert gateway.stderr().count("resuming") == 2
