"""SIGKILL under load, three times, with chained compliance records (issue 16): the chain
continues after each restart from the file's tail with no gap and no fork, and the file
verifies end to end (``hangar-otelcol verify``) after the final SIGTERM's checkpoint."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import configs
from tests.support.faults import CallSender, drain, stopping
from tests.support.gateway import shipped_gateway
from tests.support.workload import jsonl_calls

pytestmark = pytest.mark.faults

KILLS = 3
UNDER_LOAD = 1.5  # seconds of load between two kills (kept short: a bounded test)


async def test_sigkill_three_times_the_chain_verifies_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "compliance.jsonl"
    overlay = configs.shipped_overlay(
        exporters={"compliance": {"format": "jsonlines", "output": str(out),
                                  "chain": {"enabled": True, "key_env": "TEST_CHAIN_KEY",
                                            "checkpoint_interval": "0.5s"}}})
    gateway, ports = shipped_gateway(tmp_path, overlay, env={"TEST_CHAIN_KEY": "s3cret"})
    await asyncio.to_thread(gateway.start)
    sender = CallSender(f"127.0.0.1:{ports['grpc']}", threads=4, per_request=50).start()
    async with stopping(sender, gateway):
        for _ in range(KILLS):
            await asyncio.sleep(UNDER_LOAD)
            gateway.kill()
            await asyncio.sleep(0.5)
            await asyncio.to_thread(gateway.start)
        await asyncio.sleep(UNDER_LOAD)
        await drain(sender, lambda: jsonl_calls(out), "in the file", 60)
    # after SIGTERM: the last record is the final checkpoint
    done = subprocess.run([sys.executable, "-m", "hangar_otelcol", "verify", "--key-env",
                           "TEST_CHAIN_KEY", str(out)], capture_output=True, text=True,
                          env={"TEST_CHAIN_KEY": "s3cret", "PATH": "/usr/bin:/bin"},
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)
    verified = int(done.stdout.split(" records", 1)[0])
    lines = out.read_bytes().splitlines()
    records = [x for x in lines if b'"event_type":"ChainCheckpoint"' not in x]
    assert verified == len(records) > 200, done.stdout  # every record, chained
    assert b'"final":true' in lines[-1]
    # one stream (one worker) through every restart: a restart continued it, no new one
    assert done.stdout.count("(up to") == 1, done.stdout
    wrong = subprocess.run([sys.executable, "-m", "hangar_otelcol", "verify", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 1 and ":1: edited" in wrong.stdout
