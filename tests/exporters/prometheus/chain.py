"""The default gateway's enrichment path, built from the real components, for tests:
mcp_caller -> mcp_cost -> prometheus, fed with a hangar capture in arrival order."""

from __future__ import annotations

from pathlib import Path

from hangar_otelcol.component import Kind
from hangar_otelcol.config.types import build
from hangar_otelcol.exporters.prometheus.config import PrometheusConfig
from hangar_otelcol.exporters.prometheus.factory import FACTORY as PROM
from hangar_otelcol.pdata import Batch, Sender
from hangar_otelcol.processors.caller.config import CallerConfig
from hangar_otelcol.processors.caller.factory import FACTORY as CALLER
from hangar_otelcol.processors.cost.config import CostConfig
from hangar_otelcol.processors.cost.factory import FACTORY as COST
from hangar_otelcol.telemetry import Telemetry
from hangar_otelcol.testing import StandaloneHost, make_settings
from tests.support import captures as hc

PRICING = """\
# one tenth of a cent per call, half a cent for multiply
rules:
  - mcp_server_id: "*"
    tool_name: "*"
    usd_per_call: 0.001
  - mcp_server_id: math
    tool_name: multiply
    usd_per_call: 0.005
"""

#: hand-computed from the captures (README: add, multiply, add, divide, slow, add) and PRICING.
#: Failed calls are not priced; 1.1.0 reports divide's isError result as success.
EXPECTED = {
    "1.1.0": {"calls": {("add", "success"): 3, ("multiply", "success"): 1,
                        ("divide", "success"): 1, ("slow", "error"): 1},
              "cost": {"add": 30, "multiply": 50, "divide": 10},
              "errors": {("slow", "TimeoutError"): 1}},
    "1.6.3": {"calls": {("add", "success"): 3, ("multiply", "success"): 1,
                        ("divide", "error"): 1, ("slow", "error"): 1},
              "cost": {"add": 30, "multiply": 50},
              "errors": {("divide", "error"): 1, ("slow", "error"): 1}},
    "2.34.4": {"calls": {("add", "success"): 3, ("multiply", "success"): 1,
                         ("divide", "error"): 1, ("slow", "error"): 1},
               "cost": {"add": 30, "multiply": 50},
               "errors": {("divide", "tool_error"): 1, ("slow", "TimeoutError"): 1}},
}
MODELS = {"add": "fixed", "multiply": "fixed", "divide": "fixed"}
IDENTITY_HEADERS = {"x-user-id": "alice", "x-principal-type": "user"}


class Chain:
    def __init__(self, tmp: Path, prom: dict | None = None) -> None:
        pricing = tmp / "pricing.yaml"
        pricing.write_text(PRICING)
        self.telemetry = Telemetry()
        #: the chain's own service: its default ledger pairs audit records and spans
        self.host = StandaloneHost()
        self.exporter = PROM.create(make_settings(Kind.EXPORTER, "prometheus", self.telemetry),
                                    build(PrometheusConfig, prom or {}))
        self._heads = {}
        for signal in ("traces", "logs"):
            cost = COST.create(make_settings(Kind.PROCESSOR, "mcp_cost", self.telemetry),
                               build(CostConfig, {"pricing_file": str(pricing),
                                                  "watch_interval": 0}),
                               signal, self.exporter)
            caller = CALLER.create(make_settings(Kind.PROCESSOR, "mcp_caller",
                                                 self.telemetry),
                                   build(CallerConfig, {}), signal, cost)
            self._heads[signal] = caller

    async def replay(self, version: str, sender: Sender | None = None, run: int = 0) -> None:
        """The capture's requests through the chain (``run``: the same calls made again,
        new records; captures.load)."""
        sender = sender or Sender("grpc", "127.0.0.1", IDENTITY_HEADERS)
        for part in hc.load(version, sender, run):
            signal = hc.signal_of(part)
            await self._heads[signal.value].consume(Batch(signal, [part]))
