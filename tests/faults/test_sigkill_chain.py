"""SIGKILL under load, three times, and a real logrotate, with chained compliance records
(issue 16): the chain continues after each restart from the file's tail (or from the rotated
file when logrotate moved it), with no gap and no fork, and the rotated set verifies end to
end (``hangar-otelcol verify``) after the final SIGTERM's checkpoint."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import configs
from tests.support.faults import CallSender, Tally, arrivals, drain, stopping
from tests.support.gateway import shipped_gateway
from tests.support.workload import jsonl_calls

pytestmark = [pytest.mark.faults,
              pytest.mark.skipif(shutil.which("logrotate") is None and
                                 not Path("/usr/sbin/logrotate").exists(),
                                 reason="logrotate not installed (scripts/install-test-peers.sh)")]

KILLS = 3
UNDER_LOAD = 1.5  # seconds of load between two kills (kept short: a bounded test)
LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"


def logrotate(tmp_path: Path, out: Path, gateway_pid: int) -> None:
    """What an operator's logrotate does with the gateway's file: rename it to .1, create a
    new one, and SIGHUP the gateway, which reopens its output (README, "Compliance")."""
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{out} {{\n  rotate 5\n  create\n  missingok\n  nocompress\n"
                    f"  postrotate\n    kill -HUP {gateway_pid}\n  endscript\n}}\n")
    subprocess.run([LOGROTATE, "--force", "--state", str(tmp_path / "logrotate.state"),
                    str(conf)], check=True, timeout=30, capture_output=True)


async def test_sigkill_three_times_and_logrotate_the_chain_verifies_end_to_end(
        tmp_path: Path, fault_report) -> None:
    out = tmp_path / "compliance.jsonl"
    overlay = configs.shipped_overlay(
        exporters={"compliance": {"format": "jsonlines", "output": str(out),
                                  "chain": {"enabled": True, "key_env": "TEST_CHAIN_KEY",
                                            "checkpoint_interval": "0.5s"}}})
    gateway, ports = shipped_gateway(tmp_path, overlay, env={"TEST_CHAIN_KEY": "s3cret"})
    await asyncio.to_thread(gateway.start)
    sender = CallSender(f"127.0.0.1:{ports['grpc']}", threads=4, per_request=50).start()
    rotated = out.with_name(out.name + ".1")
    async with stopping(sender, gateway):
        for kill in range(KILLS):
            await asyncio.sleep(UNDER_LOAD)
            if kill == 1:  # a rotation under load between two kills
                assert gateway.process is not None
                await asyncio.to_thread(logrotate, tmp_path, out, gateway.process.pid)
                await asyncio.sleep(UNDER_LOAD)
            gateway.kill()
            await asyncio.sleep(0.5)
            await asyncio.to_thread(gateway.start)
        await asyncio.sleep(UNDER_LOAD)
        await drain(sender, lambda: jsonl_calls(rotated) + jsonl_calls(out), "in the files",
                    60)
    assert rotated.exists() and jsonl_calls(rotated), "logrotate moved records to .1"
    tally = Tally("sigkill x3 + logrotate (chained JSON lines)").settle(
        sender, arrivals(jsonl_calls(rotated) + jsonl_calls(out)))
    fault_report(tally)
    assert tally.acknowledged == tally.sent and tally.lost == 0, tally.line()
    assert tally.duplicated == 0, tally.line()
    # after SIGTERM: the last record is the final checkpoint
    files = [str(rotated), str(out)]  # oldest first, as verify reads a rotated set
    done = subprocess.run([sys.executable, "-m", "hangar_otelcol", "verify", "--key-env",
                           "TEST_CHAIN_KEY", *files], capture_output=True, text=True,
                          env={"TEST_CHAIN_KEY": "s3cret", "PATH": "/usr/bin:/bin"},
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout)
    verified = int(done.stdout.split(" records", 1)[0])
    lines = rotated.read_bytes().splitlines() + out.read_bytes().splitlines()
    records = [x for x in lines if b'"event_type":"ChainCheckpoint"' not in x]
    assert verified == len(records) > 200, done.stdout  # every record, chained
    assert b'"final":true' in lines[-1]
    # one stream (one worker) through every restart and the rotation: continued, no new one
    assert done.stdout.count("(up to") == 1, done.stdout
    # the chain is one across the two files: the newer file alone misses its beginning
    alone = subprocess.run([sys.executable, "-m", "hangar_otelcol", "verify", "--key-env",
                            "TEST_CHAIN_KEY", str(out)], capture_output=True, text=True,
                           env={"TEST_CHAIN_KEY": "s3cret", "PATH": "/usr/bin:/bin"},
                           timeout=120)
    assert alone.returncode == 1, alone.stdout
    wrong = subprocess.run([sys.executable, "-m", "hangar_otelcol", "verify", *files],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 1 and ":1: edited" in wrong.stdout
