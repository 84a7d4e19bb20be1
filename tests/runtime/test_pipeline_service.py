from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import aiohttp
import pytest
import yaml
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hangar_otelcol.component import ComponentID
from hangar_otelcol.config.model import validate
from hangar_otelcol.config.types import ConfigError
from hangar_otelcol.pdata import Batch, Signal
from hangar_otelcol.registry import Registry
from hangar_otelcol.service import Service, StartupError
from hangar_otelcol.testing import free_port
from tests.runtime import fakes


def service(text: str, registry: Registry | None = None) -> Service:
    return Service(validate(yaml.safe_load(text), registry or fakes.registry()))


def spans(*names: str) -> Batch:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    for name in names:
        ss.spans.add().name = name
    return Batch.of(Signal.TRACES, ExportTraceServiceRequest.FromString(req.SerializeToString()))


def names(batch: Batch) -> list[str]:
    return [s.name for p in batch for rs in p.message.resource_spans for ss in rs.scope_spans
            for s in ss.spans]


async def test_fan_out_copies_only_for_mutating_consumers() -> None:
    svc = service("""
receivers: {src: {}}
processors: {tag/a: {tag: "+a"}, tag/b: {tag: "+b"}}
exporters: {sink/a: {}, sink/b: {}, sink/raw: {}}
service:
  pipelines:
    traces/a: {receivers: [src], processors: [tag/a], exporters: [sink/a]}
    traces/b: {receivers: [src], processors: [tag/b], exporters: [sink/b]}
    traces/raw: {receivers: [src], exporters: [sink/raw]}
""")
    src = svc.graph.receivers[ComponentID("src")]
    original = spans("x")
    await src.consumers[Signal.TRACES].consume(original)
    ex = svc.graph.exporters
    assert names(ex[ComponentID("sink", "a")].batches[0]) == ["x+a"]
    assert names(ex[ComponentID("sink", "b")].batches[0]) == ["x+b"]
    # the read-only pipeline got the original object, untouched by either mutator
    assert ex[ComponentID("sink", "raw")].batches[0] is original
    assert names(original) == ["x"]
    # untouched data keeps its wire bytes; mutated copies were re-serialized
    assert not original.parts[0].mutated


async def test_single_mutating_consumer_gets_the_original_without_copy() -> None:
    svc = service("""
receivers: {src: {}}
processors: {tag: {tag: "!"}}
exporters: {sink: {}}
service: {pipelines: {traces: {receivers: [src], processors: [tag], exporters: [sink]}}}
""")
    original = spans("y")
    await svc.graph.receivers[ComponentID("src")].consumers[Signal.TRACES].consume(original)
    assert svc.graph.exporters[ComponentID("sink")].batches[0] is original
    assert names(original) == ["y!"]


async def test_connector_feeds_another_pipeline() -> None:
    svc = service("""
receivers: {src: {}}
exporters: {sink/t: {}, sink/l: {}}
connectors: {bridge: {}}
service:
  pipelines:
    traces: {receivers: [src], exporters: [bridge, sink/t]}
    logs: {receivers: [bridge], exporters: [sink/l]}
""")
    await svc.graph.receivers[ComponentID("src")].consumers[Signal.TRACES].consume(spans("a", "b"))
    logs = svc.graph.exporters[ComponentID("sink", "l")].batches
    assert [r.body.string_value for r in logs[0].parts[0].message.resource_logs[0]
            .scope_logs[0].log_records] == ["a", "b"]
    assert len(svc.graph.exporters[ComponentID("sink", "t")].batches) == 1


def test_connector_cycle_is_reported() -> None:
    reg = fakes.registry()
    reg.add(fakes.Factory("loop", fakes.Kind.CONNECTOR, fakes.FakeConfig,
                          lambda s, c, consumers: fakes.Bridge(s, c, consumers=consumers),
                          fakes.ALL, connects=frozenset({(Signal.TRACES, Signal.TRACES)})))
    with pytest.raises(ConfigError) as err:
        service("""
receivers: {src: {}}
exporters: {sink: {}}
connectors: {loop: {}}
service:
  pipelines:
    traces/a: {receivers: [src, loop], exporters: [loop, sink]}
""", reg)
    assert "connectors form a cycle" in err.value.errors[0]


async def test_start_and_stop_order() -> None:
    fakes.EVENTS.clear()
    svc = service("""
extensions: {ext: {}}
receivers: {src: {}}
processors: {tag/1: {}, tag/2: {}}
exporters: {sink: {}}
connectors: {bridge: {}}
service:
  extensions: [ext]
  telemetry: {metrics: {level: none}}
  pipelines:
    traces: {receivers: [src], processors: [tag/1, tag/2], exporters: [bridge]}
    logs: {receivers: [bridge], exporters: [sink]}
""")
    await svc.start()
    assert svc.host.ready
    assert await svc.shutdown() == 0
    assert fakes.EVENTS == [
        "start extension ext", "start exporter sink", "start connector bridge",
        "start processor tag/1", "start processor tag/2", "start receiver src",
        "stop receiver src", "stop processor tag/1", "stop processor tag/2",
        "stop connector bridge", "stop exporter sink", "stop extension ext",
    ]


async def test_startup_failure_is_one_line_and_stops_what_started() -> None:
    fakes.EVENTS.clear()
    svc = service("""
receivers: {src: {fail_start: true, endpoint: "0.0.0.0:4317"}}
exporters: {sink: {}}
service:
  telemetry: {metrics: {level: none}}
  pipelines: {traces: {receivers: [src], exporters: [sink]}}
""")
    with pytest.raises(StartupError) as err:
        await svc.start()
    assert str(err.value) == ("cannot start receiver src: listen tcp 0.0.0.0:4317: address "
                              "already in use")
    assert fakes.EVENTS == ["start exporter sink", "start receiver src", "stop exporter sink"]


async def _status(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as resp:
        return resp.status, await resp.json()


async def test_health_check_and_self_metrics_over_http() -> None:
    health, metrics = free_port(), free_port()
    reg = fakes.registry()
    from hangar_otelcol.extensions.health_check.factory import FACTORY

    reg.add(FACTORY)
    svc = service(f"""
extensions: {{health_check: {{endpoint: "127.0.0.1:{health}"}}}}
receivers: {{src: {{}}}}
exporters: {{sink: {{}}}}
service:
  extensions: [health_check]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines: {{traces: {{receivers: [src], exporters: [sink]}}}}
""", reg)
    await svc.start()
    url = f"http://127.0.0.1:{health}/"
    async with aiohttp.ClientSession() as session:
        assert await _status(session, url) == (200, {"status": "Server available",
                                                      "upSince": svc.graph.extensions[
                                                          ComponentID("health_check")]._since})
        svc.telemetry.for_component("receiver", "src").accepted(Signal.TRACES, 3, "grpc")
        async with session.get(f"http://127.0.0.1:{metrics}/metrics") as resp:
            text = await resp.text()
        assert 'otelcol_receiver_accepted_spans_total{receiver="src",transport="grpc"} 3.0' in text
        svc.host.ready = False  # what shutdown does first, before stopping anything
        status, body = await _status(session, url)
        assert status == 503 and body["status"] == "Server not available"
    await svc.shutdown()


MINIMAL = """
receivers: {src: {}}
exporters: {sink: {}}
service:
  telemetry: {metrics: {level: none}}
  pipelines: {traces: {receivers: [src], exporters: [sink]}}
"""


async def _running(svc: Service) -> asyncio.Task[int]:
    """Start ``svc.run()`` and return once it is ready (bounded: 1 s)."""
    task = asyncio.create_task(svc.run())
    for _ in range(100):
        if svc.host.ready:
            break
        await asyncio.sleep(0.01)
    assert svc.host.ready
    return task


async def test_run_exits_zero_on_sigterm() -> None:
    task = await _running(service(MINIMAL))
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 10) == 0


async def test_sighup_reloads_components_that_can() -> None:
    fakes.EVENTS.clear()
    svc = service(MINIMAL)
    task = await _running(svc)
    os.kill(os.getpid(), signal.SIGHUP)
    for _ in range(100):
        if "reload exporter sink" in fakes.EVENTS:
            break
        await asyncio.sleep(0.01)
    svc.request_stop()
    assert await asyncio.wait_for(task, 10) == 0
    assert fakes.EVENTS.count("reload exporter sink") == 1
    assert svc.host.ready is False


def test_extensions_are_enabled_by_alias_as_in_validate() -> None:
    """`validate` accepts an alias in service.extensions; building must accept it too."""
    from hangar_otelcol.extensions.health_check.factory import FACTORY

    reg = fakes.registry()
    reg.add(FACTORY)
    svc = service("""
extensions: {health_check: {endpoint: "127.0.0.1:0"}}
receivers: {src: {}}
exporters: {sink: {}}
service:
  extensions: [healthcheck]
  pipelines: {traces: {receivers: [src], exporters: [sink]}}
""", reg)
    assert list(svc.graph.extensions) == [ComponentID.parse("health_check")]
