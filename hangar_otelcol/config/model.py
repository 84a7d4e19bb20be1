"""The top-level config: component sections, ``service`` and cross-reference checks.

``validate(data, registry)`` decodes every component config with its factory's
dataclass and checks the pipelines, returning a ``GatewayConfig`` or raising one
``ConfigError`` that lists every problem with its path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from hangar_otelcol.component import ComponentID, Factory, Kind
from hangar_otelcol.config.types import (
    ConfigError,
    Duration,
    decode,
    excerpt,
    extension_refs,
    minimum_errors,
)
from hangar_otelcol.net.endpoints import endpoint_problem
from hangar_otelcol.pdata import Signal
from hangar_otelcol.registry import Registry


@dataclass
class PipelineConfig:
    receivers: list[str] = field(default_factory=list)
    processors: list[str] = field(default_factory=list)
    exporters: list[str] = field(default_factory=list)


@dataclass
class MetricsTelemetryConfig:
    level: Literal["none", "basic", "normal", "detailed"] = "normal"
    #: where the gateway serves its own metrics in Prometheus format
    address: str = "127.0.0.1:8888"

    def validate(self) -> list[str]:
        problem = endpoint_problem(self.address, "address") if self.address else None
        return [problem] if problem else []


@dataclass
class LogsTelemetryConfig:
    level: Literal["debug", "info", "warn", "warning", "error"] = "info"
    encoding: Literal["console", "json"] = "console"


@dataclass
class TelemetryConfig:
    metrics: MetricsTelemetryConfig = field(default_factory=MetricsTelemetryConfig)
    logs: LogsTelemetryConfig = field(default_factory=LogsTelemetryConfig)


@dataclass
class ServiceConfig:
    extensions: list[str] = field(default_factory=list)
    pipelines: dict[str, PipelineConfig] = field(default_factory=dict)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    #: how long SIGTERM/SIGINT may take to drain processors and exporter queues
    shutdown_timeout: Duration = Duration(30)
    #: raise glibc's mmap/trim thresholds (bench/README.md) and gc.freeze()
    tune_allocator: bool = True
    #: gateway processes sharing the listening ports (SO_REUSEPORT); see workers.py
    workers: int = 1

    def validate(self) -> list[str]:
        return minimum_errors("workers", self.workers, 1)


@dataclass
class ResolvedPipeline:
    """A pipeline with every reference resolved to a canonical component id."""

    name: str
    signal: Signal
    receivers: list[ComponentID]
    processors: list[ComponentID]
    exporters: list[ComponentID]


@dataclass
class ComponentEntry:
    id: ComponentID
    factory: Factory
    config: Any


@dataclass
class GatewayConfig:
    receivers: dict[ComponentID, ComponentEntry]
    processors: dict[ComponentID, ComponentEntry]
    exporters: dict[ComponentID, ComponentEntry]
    connectors: dict[ComponentID, ComponentEntry]
    extensions: dict[ComponentID, ComponentEntry]
    service: ServiceConfig
    pipelines: dict[str, ResolvedPipeline]
    #: service.extensions resolved to canonical ids (keys of ``extensions``)
    enabled_extensions: list[ComponentID] = field(default_factory=list)


_TOP_LEVEL = {"receivers", "processors", "exporters", "connectors", "extensions", "service"}


def _decode_section(kind: Kind, raw: Any, registry: Registry, errors: list[str],
                    broken: set[str]) -> dict[ComponentID, ComponentEntry]:
    section = kind.section
    out: dict[ComponentID, ComponentEntry] = {}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        errors.append(f"{section}: expected a mapping of component ids, got {type(raw).__name__}")
        return out
    for key, value in raw.items():
        path = f"{section}.{key}"
        try:
            cid = ComponentID.parse(str(key))
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
            continue
        factory = registry.get(kind, cid.type)
        if factory is None:
            broken.add(str(cid))  # reported here; not again as "not defined" in pipelines
            known = ", ".join(registry.types(kind)) or "none"
            errors.append(f"{path}: unknown {kind.value} type {excerpt(cid.type)} (known: {known})")
            continue
        config = decode(factory.config_class, value, path, errors)
        out[ComponentID(factory.type, cid.name)] = ComponentEntry(cid, factory, config)
    return out


def _canonical(ref: str, registry: Registry, kinds: tuple[Kind, ...]) -> ComponentID | None:
    """A reference as written in a pipeline, with an alias type mapped to its canonical type."""
    try:
        cid = ComponentID.parse(ref)
    except ValueError:
        return None
    for kind in kinds:
        factory = registry.get(kind, cid.type)
        if factory is not None:
            return ComponentID(factory.type, cid.name)
    return cid


def validate(data: dict[str, Any], registry: Registry) -> GatewayConfig:
    errors: list[str] = []
    for key in data:
        if key not in _TOP_LEVEL:
            errors.append(f"{key}: unknown top-level key (known: {', '.join(sorted(_TOP_LEVEL))})")
    broken: set[str] = set()
    sections = {kind: _decode_section(kind, data.get(kind.section), registry, errors, broken)
                for kind in Kind}
    service = decode(ServiceConfig, data.get("service"), "service", errors)
    pipelines = _check_pipelines(service, sections, registry, errors, broken)
    enabled = _check_extensions(service, sections[Kind.EXTENSION], registry, errors)
    _check_extension_refs(sections, set(enabled), registry, errors)
    for cid in sections[Kind.CONNECTOR]:
        for other in (Kind.RECEIVER, Kind.EXPORTER):
            if cid in sections[other]:
                errors.append(f"connectors.{cid}: ambiguous id: also defined in {other.section}")
    if errors:
        raise ConfigError(errors)
    return GatewayConfig(
        receivers=sections[Kind.RECEIVER], processors=sections[Kind.PROCESSOR],
        exporters=sections[Kind.EXPORTER], connectors=sections[Kind.CONNECTOR],
        extensions=sections[Kind.EXTENSION], service=service, pipelines=pipelines,
        enabled_extensions=enabled)


def _check_extensions(service: ServiceConfig, extensions: dict[ComponentID, ComponentEntry],
                      registry: Registry, errors: list[str]) -> list[ComponentID]:
    enabled = []
    for i, ref in enumerate(service.extensions):
        cid = _canonical(ref, registry, (Kind.EXTENSION,))
        if cid is None or cid not in extensions:
            errors.append(f"service.extensions[{i}]: extension {excerpt(ref)} is not defined in "
                          "extensions")
        else:
            enabled.append(cid)
    return enabled


def _check_extension_refs(sections: dict[Kind, dict[ComponentID, ComponentEntry]],
                          enabled: set[ComponentID], registry: Registry,
                          errors: list[str]) -> None:
    """Every ``ExtensionRef`` in a component config names an enabled extension that
    provides what the component needs (a ledger, ...)."""
    extensions = sections[Kind.EXTENSION]
    for kind, section in sections.items():
        for entry in section.values():
            for path, ref in extension_refs(entry.config, f"{kind.section}.{entry.id}"):
                cid = _canonical(ref, registry, (Kind.EXTENSION,))
                target = extensions.get(cid) if cid is not None else None
                if target is None:
                    errors.append(f"{path}: extension {excerpt(ref)} is not defined in extensions")
                elif cid not in enabled:
                    errors.append(f"{path}: extension {excerpt(ref)} is not enabled (add it to "
                                  "service.extensions)")
                elif ref.capability and ref.capability not in target.factory.provides:
                    errors.append(f"{path}: extension {excerpt(ref)} "
                                  f"({target.factory.type}) is not "
                                  f"a {ref.capability}")


def _check_pipelines(service: ServiceConfig, sections: dict[Kind, dict[ComponentID, Any]],
                     registry: Registry, errors: list[str], broken: set[str]
                     ) -> dict[str, ResolvedPipeline]:
    pipelines: dict[str, ResolvedPipeline] = {}
    if not service.pipelines:
        errors.append("service.pipelines: at least one pipeline is required")
    connectors = sections[Kind.CONNECTOR]
    # connector id -> signals it is used with as exporter / as receiver
    conn_in: dict[ComponentID, set[Signal]] = {}
    conn_out: dict[ComponentID, set[Signal]] = {}
    for name, pipe in service.pipelines.items():
        path = f"service.pipelines.{name}"
        signal_name = name.partition("/")[0]
        try:
            signal = Signal(signal_name)
        except ValueError:
            errors.append(f"{path}: unknown signal {excerpt(signal_name)} "
                          "(expected traces, logs or "
                          "metrics, optionally followed by /name)")
            continue
        resolved = ResolvedPipeline(name, signal, [], [], [])
        pipelines[name] = resolved
        if not pipe.receivers:
            errors.append(f"{path}.receivers: a pipeline needs at least one receiver")
        if not pipe.exporters:
            errors.append(f"{path}.exporters: a pipeline needs at least one exporter")
        for field_name, kind in (("receivers", Kind.RECEIVER), ("processors", Kind.PROCESSOR),
                                 ("exporters", Kind.EXPORTER)):
            refs = getattr(pipe, field_name)
            seen: set[ComponentID] = set()
            for i, ref in enumerate(refs):
                ref_path = f"{path}.{field_name}[{i}]"
                cid = _canonical(ref, registry, (kind, Kind.CONNECTOR))
                if cid is None:
                    errors.append(f"{ref_path}: invalid component id {excerpt(ref)}")
                    continue
                if cid in seen:
                    errors.append(f"{ref_path}: {excerpt(ref)} is listed twice")
                seen.add(cid)
                getattr(resolved, field_name).append(cid)
                if kind != Kind.PROCESSOR and cid in connectors:
                    (conn_in if kind == Kind.EXPORTER else conn_out).setdefault(
                        cid, set()).add(signal)
                    continue
                entry = sections[kind].get(cid)
                if entry is None and ref in broken:
                    continue
                if entry is None:
                    where = f"{kind.section} or connectors" if kind != Kind.PROCESSOR else \
                        "processors"
                    errors.append(f"{ref_path}: {excerpt(ref)} is not defined in {where}")
                    continue
                if signal not in entry.factory.signals:
                    errors.append(f"{ref_path}: {kind.value} {excerpt(ref)} does not support "
                                  f"{signal.value}")
    for cid, entry in connectors.items():
        ins, outs = conn_in.get(cid, set()), conn_out.get(cid, set())
        if not ins and not outs:
            continue  # defined but unused, like any other component
        if not ins or not outs:
            role = "an exporter" if not ins else "a receiver"
            errors.append(f"connectors.{cid}: used only on one side: a connector must also be "
                          f"{role} in some pipeline")
            continue
        pairs = {(i, o) for i in ins for o in outs}
        unsupported = sorted(f"{i.value}->{o.value}" for i, o in pairs
                             if (i, o) not in entry.factory.connects)
        supported_any = any(p in entry.factory.connects for p in pairs)
        if not supported_any or (unsupported and len(ins) == 1 and len(outs) == 1):
            errors.append(f"connectors.{cid}: does not connect {', '.join(unsupported)}")
    return pipelines
