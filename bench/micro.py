"""Per-operation costs behind the design choices the code comments cite.

``python -m bench.micro`` times each pair of alternatives in-process (best of 5 runs of
``timeit``) and prints microseconds per operation (bytes for memory); bench/README.md
("Per-operation costs") keeps the figures of the last run.
"""

from __future__ import annotations

import time
import timeit
from collections.abc import Callable

from opentelemetry.proto.trace.v1.trace_pb2 import Span
from prometheus_client import CollectorRegistry, Counter

from hangar_otelcol.mcp.attrs import encode_attribute
from hangar_otelcol.mcp.view import SPAN_ATTRIBUTES


def _best(stmt: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=5)) / number * 1e6


def counters() -> dict[str, float]:
    values: dict[tuple[str, ...], float] = {}
    key = ("math", "add", "success")

    def dict_inc() -> None:
        values[key] = values.get(key, 0) + 1

    counter = Counter("calls", "calls", ("s", "t", "st"), registry=CollectorRegistry())

    def client_inc() -> None:
        counter.labels("math", "add", "success").inc()

    return {"dict increment (FastCounter)": _best(dict_inc, 200_000),
            "prometheus_client labels().inc()": _best(client_inc, 100_000)}


def attributes() -> dict[str, float]:
    values = {"mcp.caller.type": "human", "mcp.caller.id": "alice",
              "mcp.caller.roles": "admin,dev"}
    encoded = b"".join(encode_attribute(SPAN_ATTRIBUTES, k, v) for k, v in values.items())

    def build() -> None:
        span = Span()
        for k, v in values.items():
            span.attributes.add(key=k).value.string_value = v

    def merge() -> None:
        Span().MergeFromString(encoded)

    return {"3 attributes as KeyValue objects": _best(build, 50_000),
            "3 attributes as pre-encoded bytes (MergeFromString)": _best(merge, 50_000)}


def timestamps() -> dict[str, float]:
    now = time.time()
    cache: dict[int, str] = {}

    def strftime() -> None:
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))

    def cached() -> None:
        second = int(now)
        text = cache.get(second)
        if text is None:
            text = cache[second] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))

    return {"strftime per record": _best(strftime, 100_000),
            "one-entry per-second cache": _best(cached, 200_000)}


def json_lines() -> dict[str, float]:
    """What an orjson result keeps in memory, per line (exporters/compliance/formats/
    jsonlines.py keeps right-sized copies of the lines that wait to be written)."""
    import tracemalloc

    import orjson

    record = {"timestamp": "2026-12-03T10:00:00.000000+00:00", "tool_name": "add",
              "trace_id": "ab" * 16, "record_id": "cd" * 16}
    out = {}
    for name, make in (("bytes held per orjson line", orjson.dumps),
                       ("bytes held per right-sized copy",
                        lambda r: bytes(memoryview(orjson.dumps(r))))):
        tracemalloc.start()
        lines = [make(record) for _ in range(1000)]
        out[name] = tracemalloc.get_traced_memory()[0] / len(lines)
        tracemalloc.stop()
    return out


def chained_formats() -> dict[str, float]:
    """A compliance record per format without and with the chain (HMAC-SHA256 key,
    exporters/compliance/chain.py): the chain's cost per record is the difference."""
    from hangar_otelcol.exporters.compliance.chain import Chain
    from hangar_otelcol.exporters.compliance.formats import formatter_for
    from hangar_otelcol.exporters.compliance.formats.options import FormatOptions
    from hangar_otelcol.exporters.compliance.record import ComplianceRecord

    r = ComplianceRecord(event_type="ToolInvocationCompleted",
                         time_unix_nano=1_780_000_000_123_456_000, mcp_server_id="math",
                         tool_name="add", status="success", duration_ms=12.5,
                         caller_id="alice", caller_type="user", trace_id="ab" * 16,
                         span_id="cd" * 8, record_id="ef" * 16)
    out = {}
    for fmt in ("jsonlines", "leef", "syslog", "cef"):
        f = formatter_for(fmt, FormatOptions(procid="1"))
        line: Callable[[], bytes] = getattr(f, "format_line", None) or (
            lambda rec, f=f: (f.format(rec) + "\n").encode())
        chain = Chain(fmt, "host-w0-compliance", b"k" * 32)

        def plain(line: Callable[..., bytes] = line) -> bytes:
            return line(r)

        def chained(line: Callable[..., bytes] = line, chain: Chain = chain) -> bytes:
            return chain.seal(line(r)[:-1]) + b"\n"

        out[f"{fmt} line per record"] = _best(plain, 50_000)
        out[f"{fmt} chained line per record"] = _best(chained, 50_000)
    return out


def ledger() -> dict[str, float]:
    """The call ledger per call, 512 at a time: SQLite (hangar_otelcol/ledger/sqlite.py,
    wall time on the database thread, including its commit) and, when ``redis-server`` is
    installed, Redis on loopback (hangar_otelcol/ledger/redis.py: one Lua script per batch,
    round trip included)."""
    import asyncio
    import shutil
    import subprocess
    import tempfile

    from redis.exceptions import RedisError

    from hangar_otelcol.extensions.call_ledger.config import RedisLedgerConfig
    from hangar_otelcol.extensions.call_ledger.extension import redis_client
    from hangar_otelcol.ledger import Ledger
    from hangar_otelcol.ledger.redis import RedisLedger
    from hangar_otelcol.ledger.sqlite import SqliteLedger
    from hangar_otelcol.mcp.claims import CallKey
    from hangar_otelcol.storage.sqlite import SqliteDB
    from hangar_otelcol.testing import free_port

    batches = [[CallKey("o", (b * 512 + i).to_bytes(16, "big"), "add",
                        (b * 512 + i).to_bytes(8, "big")) for i in range(512)]
               for b in range(100)]
    calls = 100 * 512

    async def timed(led: Ledger, name: str) -> dict[str, float]:
        start = time.perf_counter()
        for keys in batches:
            await led.note(keys)
        noted = time.perf_counter() - start
        start = time.perf_counter()
        for keys in batches:
            await led.claim(keys)
        claimed = time.perf_counter() - start
        return {f"ledger note ({name}), per call": noted / calls * 1e6,
                f"ledger claim ({name}), per call": claimed / calls * 1e6}

    async def run(folder: str) -> dict[str, float]:
        db = SqliteDB(f"{folder}/ledger.db")
        await db.open()
        out = await timed(SqliteLedger(db), "sqlite")
        await db.close()
        server = shutil.which("redis-server")
        if server is None:
            return out
        port = free_port()
        proc = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port),
                                 "--save", "", "--appendonly", "no", "--dir", folder],
                                stdout=subprocess.DEVNULL)
        client = redis_client(RedisLedgerConfig(endpoint=f"127.0.0.1:{port}"))
        try:
            for _ in range(100):  # bounded: up to 5 s for the server to answer
                try:
                    await client.ping()
                    break
                except (OSError, RedisError):
                    await asyncio.sleep(0.05)
            out.update(await timed(RedisLedger(client), "redis"))
        finally:
            await client.aclose()
            proc.terminate()
            proc.wait(10)
        return out

    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(run(folder))


def prometheus_scrape() -> dict[str, float]:
    """/metrics of the prometheus exporter at its series cap (10,000 label sets per family,
    every label value at max_label_value_length, 128): the copy taken on the event loop,
    the page rendered (in a thread when served), and its size."""
    from hangar_otelcol.exporters.prometheus.metrics import ToolMetrics

    cap, width = 10_000, 128
    m = ToolMetrics(cap)
    for i in range(cap):
        tool = f"{i:05d}".ljust(width, "x")
        m.record(("s".ljust(width, "s"), tool, "error", 5.0, "e".ljust(width, "e"), 10,
                  "fixed", "", ""))
    from prometheus_client import CollectorRegistry as Registry
    from prometheus_client.exposition import generate_latest

    def render() -> bytes:
        registry = Registry(auto_describe=False)
        registry.register(m.frozen())
        return generate_latest(registry)

    start = time.perf_counter()
    page = render()
    once = time.perf_counter() - start
    return {"prometheus /metrics at the cap: copy on the loop (ms)": _best(m.frozen, 5) / 1e3,
            "prometheus /metrics at the cap: render (ms)": once * 1e3,
            "bytes of /metrics at the cap": float(len(page))}


def authenticators() -> dict[str, float]:
    """What receiver authentication costs per request (extensions/bearertokenauth, oidc,
    basicauth): the extension's ``authenticate`` awaited on an event loop, with 10 tokens
    configured; a JWT (RS256, JWKS file) the first time and from the verified-token cache;
    an htpasswd bcrypt user (cost 10) once and then from the success cache."""
    import asyncio
    import base64
    import json
    import os
    import tempfile

    import bcrypt
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from hangar_otelcol.auth import Credentials
    from hangar_otelcol.component import Kind
    from hangar_otelcol.config.types import build
    from hangar_otelcol.extensions.basicauth.factory import FACTORY as BASIC
    from hangar_otelcol.extensions.bearertokenauth.factory import FACTORY as BEARER
    from hangar_otelcol.extensions.oidc.factory import FACTORY as OIDC
    from hangar_otelcol.testing import StandaloneHost, make_settings

    def create(factory, raw):  # type: ignore[no-untyped-def]
        return factory.create(make_settings(Kind.EXTENSION, factory.type),
                              build(factory.config_class, raw))

    async def per_call(ext, metadata: dict[str, str], n: int) -> float:  # type: ignore[no-untyped-def]
        creds = Credentials("grpc", "127.0.0.1", metadata)
        start = time.perf_counter()
        for _ in range(n):
            await ext.authenticate(creds)
        return (time.perf_counter() - start) / n * 1e6

    async def run(folder: str) -> dict[str, float]:
        tokens = [f"token-{i:02d}-0123456789abcdef" for i in range(10)]
        bearer = create(BEARER, {"tokens": [{"token": t, "principal": f"p{i}"}
                                            for i, t in enumerate(tokens)]})
        await bearer.start(StandaloneHost())
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        with open(f"{folder}/jwks.json", "w") as fh:
            json.dump({"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}, fh)
        oidc = create(OIDC, {"issuer_url": "https://idp.example", "audience": "gw",
                             "jwks_file": f"{folder}/jwks.json", "algorithms": ["RS256"]})
        await oidc.start(StandaloneHost())

        def token() -> str:
            return jwt.encode({"sub": "alice", "iss": "https://idp.example", "aud": "gw",
                               "exp": int(time.time()) + 600, "jti": os.urandom(8).hex()},
                              key, algorithm="RS256", headers={"kid": "k1"})
        fresh = [token() for _ in range(200)]
        first = 0.0
        for t in fresh:
            first += await per_call(oidc, {"authorization": f"Bearer {t}"}, 1)
        hashed = bcrypt.hashpw(b"s3cret-password", bcrypt.gensalt(10)).decode()
        basic = create(BASIC, {"htpasswd": {"inline": f"bob:{hashed}"}})
        await basic.start(StandaloneHost())
        auth = "Basic " + base64.b64encode(b"bob:s3cret-password").decode()
        once = await per_call(basic, {"authorization": auth}, 1)
        out = {
            "auth bearertokenauth (10 tokens), per request":
                await per_call(bearer, {"authorization": f"Bearer {tokens[7]}"}, 20_000),
            "auth oidc RS256, first time per token": first / len(fresh),
            "auth oidc RS256, cached token": await per_call(
                oidc, {"authorization": f"Bearer {fresh[0]}"}, 20_000),
            "auth basicauth bcrypt, first time (ms)": once / 1e3,
            "auth basicauth bcrypt, cached": await per_call(basic, {"authorization": auth},
                                                            20_000),
        }
        for ext in (bearer, oidc, basic):
            await ext.shutdown()
        return out

    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(run(folder))


def main() -> None:
    for group in (counters, attributes, timestamps, json_lines, chained_formats, ledger,
                  prometheus_scrape, authenticators):
        for name, value in group().items():
            unit = "B" if name.startswith("bytes") else "ms" if "(ms)" in name else "us"
            print(f"{name:55s} {value:8.3f} {unit}")


if __name__ == "__main__":
    main()
