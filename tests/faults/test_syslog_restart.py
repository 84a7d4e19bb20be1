"""The SIEM's syslog server (real rsyslog, RFC 5424 over TCP) restarts twice while the
gateway, on the shipped config, writes compliance records to it under load.

Syslog over TCP has no acknowledgements, so the gateway sends again what it wrote in the
seconds before a connection broke (exporters/compliance/outputs/syslog_net.py): nothing is
lost, and the copies that may arrive twice are counted by the gateway
(otelcol_exporter_compliance_records_resent_total) and carry the same record_id, which is
how a SIEM removes them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hangar_otelcol.testing import free_port
from tests.support import configs
from tests.support.faults import CallSender, Tally, arrivals, drain, stopping
from tests.support.gateway import shipped_gateway
from tests.support.metrics import scrape
from tests.support.syslogd import Rsyslog, have_rsyslog
from tests.support.workload import call_number

pytestmark = [pytest.mark.faults, pytest.mark.syslog,
              pytest.mark.skipif(not have_rsyslog(), reason="rsyslogd not installed "
                                 "(tests/exporters/compliance/install_syslog_daemons.sh)")]

RESTARTS = 2


def received(daemon: Rsyslog) -> list[int | None]:
    return [call_number(((r.get("sd") or {}).get("mcp@49152") or {}).get("trace_id", ""))
            for r in daemon.records()]


async def test_syslog_server_restarts_lose_nothing(tmp_path: Path, fault_report) -> None:
    port = free_port()
    daemon = Rsyslog(tmp_path / "rsyslog", port)
    await asyncio.to_thread(daemon.start)
    overlay = configs.shipped_overlay(
        exporters={"compliance": {"format": "syslog", "output": f"tcp://127.0.0.1:{port}"}},
        service=configs.SELF_METRICS)
    gateway, ports = shipped_gateway(tmp_path, overlay)
    await asyncio.to_thread(gateway.start)
    sender = CallSender(f"127.0.0.1:{ports['grpc']}", threads=4, per_request=50,
                        pause=0.02).start()
    async with stopping(sender, gateway, then=lambda: asyncio.to_thread(daemon.stop)):
        for _ in range(RESTARTS):
            await asyncio.sleep(2.0)
            await asyncio.to_thread(daemon.stop)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(daemon.start)
        await asyncio.sleep(2.0)
        await drain(sender, lambda: received(daemon), "at rsyslog", 60)
        metrics = await scrape(ports["metrics"])
    resent = sum(v for (name, _), v in metrics.items()
                 if name == "otelcol_exporter_compliance_records_resent_total")
    tally = Tally(f"rsyslog restarted x{RESTARTS} (RFC 5424/TCP)").settle(
        sender, arrivals(received(daemon)))
    tally.notes["resent_by_gateway"] = int(resent)
    fault_report(tally)
    assert tally.acknowledged == tally.sent and tally.lost == 0, tally.line()
    # copies only from the resend window, each counted by the gateway
    assert tally.duplicated <= resent, tally.line()
