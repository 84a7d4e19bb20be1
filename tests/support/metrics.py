"""Prometheus text: fetch a /metrics page, parse it into comparable samples."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def fetch_metrics(port: int, accept: str = "") -> tuple[str, str]:
    """GET http://127.0.0.1:<port>/metrics; (Content-Type, body). Asserts 200."""
    headers = {"Accept": accept} if accept else {}
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}/metrics", headers=headers,
            timeout=aiohttp.ClientTimeout(total=10)) as resp:
        assert resp.status == 200, await resp.text()
        return resp.headers["Content-Type"], await resp.text()


def samples(text: str) -> Samples:
    """Every sample as {(name, frozenset(labels)): value}."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            out[key] = out.get(key, 0.0) + sample.value
    return out


async def scrape(port: int) -> Samples:
    """The samples of http://127.0.0.1:<port>/metrics."""
    return samples((await fetch_metrics(port))[1])


def series(got: Samples, name: str, **labels: str) -> float:
    """One series' value (0 when absent)."""
    return got.get((name, frozenset(labels.items())), 0.0)


def total(got: Samples, name: str, **labels: str) -> float:
    """The sum of every series of ``name`` that has (at least) ``labels``."""
    wanted = set(labels.items())
    return sum(value for (metric, have), value in got.items()
               if metric == name and wanted <= have)
