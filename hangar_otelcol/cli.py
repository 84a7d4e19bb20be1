"""``hangar-otelcol``: run (default) | validate | components | print-config | verify |
--version."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import yaml

from hangar_otelcol import __version__
from hangar_otelcol.component import Kind
from hangar_otelcol.config.gateway import error_lines, load_config
from hangar_otelcol.config.model import GatewayConfig
from hangar_otelcol.config.types import ConfigError
from hangar_otelcol.multiprocess import WORKER_ENV
from hangar_otelcol.redact import redact_config, secrets_in
from hangar_otelcol.registry import ComponentLoadError, default_registry
from hangar_otelcol.workers import run_workers


def _common(prefix: str = "") -> argparse.ArgumentParser:
    """The options every command takes. A subcommand's own are kept apart (``prefix``) and
    added after the ones before it (``_merge_common``): argparse would otherwise let the
    subcommand's empty default replace ``hangar-otelcol --config X validate``'s X."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", action="append", default=[], metavar="URI",
                        dest=f"{prefix}config",
                        help="config file path, file:PATH, env:VAR or yaml:INLINE; repeat to "
                             "merge in order (default: the embedded gateway config)")
    common.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        dest=f"{prefix}set",
                        help="override one config value, e.g. processors.batch.timeout=2s")
    common.add_argument("--workers", type=int, default=0, metavar="N", dest=f"{prefix}workers",
                        help="run N gateway processes sharing the ports (default: "
                             "service.workers, 1)")
    return common


def _merge_common(args: argparse.Namespace) -> argparse.Namespace:
    args.config = [*args.config, *getattr(args, "sub_config", [])]
    args.set = [*args.set, *getattr(args, "sub_set", [])]
    args.workers = getattr(args, "sub_workers", 0) or args.workers
    return args


def _parser() -> argparse.ArgumentParser:
    common, sub_common = _common(), _common("sub_")
    parser = argparse.ArgumentParser(
        prog="hangar-otelcol", parents=[common],
        description="OpenTelemetry-Collector-style gateway for MCP tool-call telemetry.")
    parser.add_argument("--version", action="version", version=f"hangar-otelcol {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", parents=[sub_common], help="run the gateway (the default)")
    sub.add_parser("validate", parents=[sub_common],
                   help="check the config and exit 0, or print every error and exit 1")
    print_config = sub.add_parser(
        "print-config", parents=[sub_common],
        help="print the config after merging, --set and ${...} expansion, secrets redacted",
        description="Print the config after merging, --set and ${...} expansion. Secrets "
                    "(values of keys such as password, token, api_key, authorization; every "
                    "headers: value; URL passwords; Bearer/Basic credentials), whether "
                    "written in the file or read from ${env:...} / ${file:...}, are shown as "
                    "<redacted: N chars, ends ...abcd>.")
    print_config.add_argument("--show-secrets", action="store_true",
                              help="print secret values in clear (they end up in your "
                                   "terminal and its scrollback)")
    components = sub.add_parser("components",
                                help="list the available components and their stability")
    components.add_argument("--configs", action="store_true",
                            help="also print each component's default config")
    verify = sub.add_parser(
        "verify", help="check chained compliance files; exit 0 only if every record verifies",
        description="Check chained compliance files (any of the four formats, .gz allowed; "
                    "a rotated set oldest first). Names the first bad record and why.")
    verify.add_argument("files", nargs="+", metavar="FILE")
    verify.add_argument("--key-file", default="", help="the chain's HMAC key, from a file")
    verify.add_argument("--key-env", default="", help="... or an environment variable")
    verify.add_argument("--public-key", default="",
                        help="an Ed25519 public key (PEM): every checkpoint must be signed "
                             "with its private key (chain.signing_key_file)")
    verify.add_argument("--allow-resent", action="store_true",
                        help="a record identical to one verified before is a resend (a "
                             "network output's, after a broken connection), not an error")
    verify.add_argument("--open", action="store_true",
                        help="the file is still being written: its end need not be a final "
                             "checkpoint")
    return parser


def _verify(args: argparse.Namespace) -> int:
    import time

    from hangar_otelcol.exporters.compliance.chain import load_key, load_public_key
    from hangar_otelcol.exporters.compliance.verify import verify

    try:
        key = load_key(args.key_file, args.key_env)
        started = time.perf_counter()
        public = load_public_key(args.public_key) if args.public_key else None
        result = verify(args.files, key, allow_open_end=args.open, public_key=public,
                        allow_resent=args.allow_resent)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    took = time.perf_counter() - started
    streams = ", ".join(f"{name} (up to {seq})" for name, seq in result.streams.items())
    rate = (result.records + result.checkpoints) / took if took else 0.0
    print(f"{result.records} records and {result.checkpoints} checkpoints verified in "
          f"{took:.2f}s ({rate:,.0f}/s); streams: {streams or 'none'}"
          + (f"; {result.resent} resent" if result.resent else ""))
    if not result.ok:
        print(f"FAILED: {result.problem}")
        return 1
    print("OK")
    return 0


def _print_errors(errors: list[str]) -> None:
    for line in error_lines(errors):
        print(line, file=sys.stderr)


def plain(value: Any) -> Any:
    """A config value as plain YAML data (durations as ``5s``)."""
    import dataclasses
    import enum

    from hangar_otelcol.config.types import ByteSize, Duration

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Duration):
        return f"{float(value):g}s"
    if isinstance(value, ByteSize):
        return int(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str):
        return str(value)  # an ExtensionRef is a str subclass
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return value


def _components(with_configs: bool = False) -> int:
    registry = default_registry()
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in Kind:
        entries = []
        for f in registry.factories(kind):
            entry: dict[str, Any] = {"type": f.type,
                                     "stability": {k: v.value for k, v in f.stability.items()}}
            if f.aliases:
                entry["aliases"] = list(f.aliases)
            if f.connects:
                entry["connects"] = sorted(f"{a.value}->{b.value}" for a, b in f.connects)
            if f.description:
                entry["description"] = f.description
            if with_configs:
                entry["default_config"] = plain(f.default_config())
            entries.append(entry)
        out[kind.section] = entries
    print(f"# hangar-otelcol {__version__}")
    print(yaml.safe_dump(out, sort_keys=False, width=100), end="")
    return 0


def _run(config: GatewayConfig, data: dict[str, Any]) -> int:
    from hangar_otelcol import logs
    from hangar_otelcol.service import Service, tune_allocator

    telemetry_logs = config.service.telemetry.logs
    logs.setup(telemetry_logs.level, telemetry_logs.encoding)
    logs.register_secrets(secrets_in(data))  # no log line shows one of the config's secrets
    if config.service.tune_allocator:
        tune_allocator()

    async def main() -> int:
        return await Service(config).run()

    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # uvloop is optional (not on Windows)
        runner = asyncio.Runner()
    with runner:
        return runner.run(main())


def main(argv: list[str] | None = None) -> int:
    args = _merge_common(_parser().parse_args(argv))
    command = args.command or "run"
    try:
        if command == "components":
            return _components(args.configs)
        if command == "verify":  # reads files only, no config
            return _verify(args)
        data, config = load_config(args.config, args.set)
    except ConfigError as exc:
        _print_errors(exc.errors)
        return 1
    except ComponentLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if command == "validate":
        print("configuration is valid", file=sys.stderr)
        return 0
    if command == "print-config":
        shown = data if args.show_secrets else redact_config(data)
        print(yaml.safe_dump(shown, sort_keys=False, width=100), end="")
        return 0
    if not os.environ.get(WORKER_ENV):  # a worker never starts workers of its own
        workers = args.workers or config.service.workers
        if workers < 1:
            print(f"error: --workers must be at least 1, got {workers}", file=sys.stderr)
            return 1
        if workers > 1:
            return run_workers(data, config, workers)
    try:
        return _run(config, data)
    except ConfigError as exc:  # e.g. a connector cycle found while building the graph
        _print_errors(exc.errors)
        return 1
    except KeyboardInterrupt:
        return 0
