"""The scenarios: which gateway config, which load, what is measured, and the target."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Load:
    """One load-generator process."""

    payload: str = "traces-512"
    protocol: str = "grpc"  # grpc | http | http-json | sdk
    concurrency: int = 8
    connections: int = 2


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    #: gateway config under bench/configs/ (None: the load goes straight to the sink)
    config: str | None
    loads: tuple[Load, ...] = (Load(),)
    #: throughput (closed loop, as fast as the gateway answers) or an open loop at a rate:
    #: ``rate_spans`` spans/s, or ``rate_of`` = half the wall throughput of that scenario
    mode: str = "throughput"  # throughput | rate
    rate_spans: float = 0.0
    rate_of: str = ""
    workers: int = 1
    #: (figure, comparison, value) the issue asks for, checked and printed
    target: tuple[str, str, float] | None = None
    #: the scenario whose wall throughput this one is compared with (workers scaling)
    scale_of: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    #: configs under bench/configs/ merged over ``config`` (``--config`` again), in order
    overlays: tuple[str, ...] = ()
    #: the OpenTelemetry Collector's twin: configs under bench/collector/ merged after
    #: common.yaml, run with the same load right after ours (empty: no twin, see ``no_twin``)
    collector: tuple[str, ...] = ()
    #: why a scenario has no Collector twin (printed in its Collector column)
    no_twin: str = ""

    @property
    def full_pipeline(self) -> bool:
        """Measured as records accepted by the receiver (its outputs are not all OTLP)."""
        return self.config == "full.yaml" and self.workers == 1


GRPC512 = Load()
#: the Collector's twins (bench/collector/, explained in bench/README.md)
PASS = ("passthrough.yaml",)
ENRICH = ("mcp-transform.yaml", "enrich.yaml")
FULL = ("mcp-transform.yaml", "full.yaml")
NO_DURABLE = ("the Collector has no equivalent: its file exporter has no persistent queue, "
              "and nothing in it holds spans or a ledger on disk")
SCENARIOS: list[Scenario] = [
    Scenario("passthrough-grpc-512", "OTLP/gRPC in -> OTLP/gRPC out, no processor",
             "passthrough.yaml", target=("per_core", ">=", 250_000), collector=PASS),
    Scenario("enrich-grpc-512", "mcp_caller + mcp_cost -> OTLP/gRPC (hangar mix: 1/8 spans "
             "priced)", "enrich.yaml", target=("per_core", ">=", 100_000),
             collector=ENRICH),
    Scenario("enrich-all-grpc-512", "as enrich, every span a priced tool call (worst case)",
             "enrich.yaml", loads=(Load("traces-all-512"),), collector=ENRICH),
    Scenario("enrich-http-512", "as enrich, OTLP/HTTP protobuf in", "enrich.yaml",
             loads=(Load(protocol="http", connections=8),), collector=ENRICH),
    Scenario("full-512", "default-like pipeline: caller + cost + OTLP + Prometheus + "
             "JSON-lines and CEF compliance files; traces and audit logs in",
             # 16 x 512 items in flight per signal: a batch fills by size (the batch
             # processor holds each request's answer until its batch was handed on)
             "full.yaml", loads=(Load(concurrency=16, connections=4),
                                 Load("logs-512", concurrency=16, connections=4)),
             target=("per_core", ">=", 60_000), collector=FULL),
    Scenario("full-durable-512", "full-512 made durable as the shipped config: queues, held "
             "spans and the call ledger in file_storage (SQLite WAL); answered once committed",
             "full.yaml", overlays=("durable.yaml",),
             loads=(Load(concurrency=16, connections=4),
                    Load("logs-512", concurrency=16, connections=4)), no_twin=NO_DURABLE),
    Scenario("full-durable-fsync-512", "full-durable-512 with file_storage fsync: true (every "
             "commit fsynced)", "full.yaml", overlays=("durable.yaml", "fsync.yaml"),
             loads=(Load(concurrency=16, connections=4),
                    Load("logs-512", concurrency=16, connections=4)), no_twin=NO_DURABLE),
    Scenario("full-spans-only-512", "full pipeline fed as hangar 1.6 feeds it: spans only, so "
             "the tool_audit connector derives an audit record for every counted span",
             "full.yaml", loads=(Load(concurrency=16, connections=4),),
             no_twin="the Collector has no equivalent: deriving audit records from spans "
                     "needs the tool_audit connector and its ledger"),
    Scenario("json-http-512", "OTLP/JSON over HTTP in -> OTLP/gRPC out (passthrough config)",
             "passthrough.yaml", loads=(Load(protocol="http-json", connections=8),),
             target=("per_core", ">=", 50_000), collector=PASS),
    Scenario("passthrough-grpc-16", "passthrough, 16-span requests over gRPC",
             "passthrough.yaml", loads=(Load("traces-16", concurrency=32, connections=4),),
             collector=PASS),
    Scenario("enrich-grpc-16", "enrich, 16-span requests over gRPC", "enrich.yaml",
             loads=(Load("traces-16", concurrency=32, connections=4),), collector=ENRICH),
    Scenario("enrich-http-16", "enrich, 16-span requests over HTTP", "enrich.yaml",
             loads=(Load("traces-16", protocol="http", concurrency=32, connections=16),),
             collector=ENRICH),
    Scenario("sdk-exporter", "passthrough fed by the official Python OTLPSpanExporter "
             "(2 threads)", "passthrough.yaml",
             loads=(Load(protocol="sdk", concurrency=2),), collector=PASS),
    Scenario("latency-direct", "baseline: load generator -> sink with no gateway, at the "
             "rate of the latency scenario", None, mode="rate", rate_of="enrich-grpc-512",
             no_twin="no gateway in it"),
    Scenario("latency-enrich", "enrich at half of enrich-grpc-512's max wall throughput "
             "(open loop; no batch processor, so no batch timeout)", "enrich.yaml",
             mode="rate", rate_of="enrich-grpc-512", target=("p99_ms", "<", 50),
             collector=ENRICH),
    Scenario("rss-10k", "full pipeline at a steady 10k spans/s", "full.yaml", mode="rate",
             rate_spans=10_000, target=("peak_rss_mib", "<", 150), collector=FULL),
    Scenario("workers-1", "enrich, 1 process, load from 2 generator processes (baseline of "
             "workers-2)", "enrich.yaml",
             loads=(Load(concurrency=8, connections=4), Load(concurrency=8, connections=4)),
             no_twin="the Collector always uses every core (GOMAXPROCS): no worker count"),
    Scenario("workers-2", "enrich, workers: 2 (SO_REUSEPORT), same load as workers-1",
             "enrich.yaml",
             loads=(Load(concurrency=8, connections=4), Load(concurrency=8, connections=4)),
             workers=2, scale_of="workers-1", target=("scaling", ">=", 1.8),
             no_twin="the Collector always uses every core (GOMAXPROCS): no worker count"),
]


def by_name(names: list[str]) -> list[Scenario]:
    """The scenarios named (plus those their rates/baselines depend on), in suite order."""
    if not names:
        return list(SCENARIOS)
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; known: "
                         f"{', '.join(known)}")
    wanted = set(names)
    for n in names:
        s = known[n]
        wanted |= {d for d in (s.rate_of, s.scale_of) if d}
    return [s for s in SCENARIOS if s.name in wanted]
