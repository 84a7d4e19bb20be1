"""The component model: ids, kinds, stability, factories and the lifecycle protocols.

Every receiver, processor, exporter, connector and extension is described by a
``Factory``: its type name, its config dataclass (with defaults), a create
function and its stability. Components implement ``Component`` (start /
shutdown); everything that accepts data implements ``Consumer``.
"""

from __future__ import annotations

import builtins
import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from hangar_otelcol.pdata import Batch
from hangar_otelcol.problems import PROBLEMS_METRIC, ProblemLog
from hangar_otelcol.signals import Signal

if TYPE_CHECKING:
    from hangar_otelcol.telemetry import ComponentTelemetry, Telemetry


class Kind(enum.StrEnum):
    RECEIVER = "receiver"
    PROCESSOR = "processor"
    EXPORTER = "exporter"
    CONNECTOR = "connector"
    EXTENSION = "extension"

    @property
    def section(self) -> str:
        """The top-level config key for this kind (``receivers``, ...)."""
        return self.value + "s"


class Stability(enum.StrEnum):
    DEVELOPMENT = "development"
    ALPHA = "alpha"
    BETA = "beta"
    STABLE = "stable"
    DEPRECATED = "deprecated"


@dataclass(frozen=True, slots=True, order=True)
class ComponentID:
    """``type[/name]``, as written in the config."""

    type: str
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> ComponentID:
        type_, _, name = str(text).strip().partition("/")
        if not type_:
            raise ValueError(f"invalid component id {text!r}: empty type")
        return cls(type_, name)

    def __str__(self) -> str:
        return f"{self.type}/{self.name}" if self.name else self.type


class ConsumerError(Exception):
    """Raised by ``Consumer.consume`` to refuse data.

    ``permanent`` errors must not be retried by the sender (bad data); the others
    are retryable (overload, shutting down). ``retry_after`` is a hint in seconds.
    ``rejected`` > 0 with ``partial`` means only that many items were refused.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        rejected: int = 0,
        partial: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.rejected = rejected
        self.partial = partial


@runtime_checkable
class Consumer(Protocol):
    """Anything that accepts a Batch: processors, exporters, connectors, fan-outs."""

    #: True if ``consume`` changes the batch in place (the pipeline copies for it).
    mutates_data: bool

    async def consume(self, batch: Batch) -> None: ...


class Host(Protocol):
    """What a started component may ask of the running service."""

    def extension(self, component_id: ComponentID | str) -> Any:
        """The started extension with this id, or None."""

    def default_extension(self, capability: str) -> Any:
        """What the service provides when a component names no extension for
        ``capability`` (the in-process ledger for ``ledger``), or None."""

    def report_status(self, component_id: ComponentID, kind: Kind, ok: bool, message: str) -> None:
        ...

    def component_statuses(self) -> Mapping[str, tuple[bool, str]]: ...

    @property
    def ready(self) -> bool: ...


class Component(Protocol):
    async def start(self, host: Host) -> None: ...

    async def shutdown(self) -> None: ...


class ConsumingComponent(Component, Consumer, Protocol):
    """A processor, exporter or connector: a component that accepts data."""


class BaseComponent:
    """Convenience base: the settings every component uses, a no-op lifecycle, not
    mutating."""

    mutates_data = False

    def __init__(self, settings: CreateSettings) -> None:
        self.settings = settings
        self.logger = settings.logger
        self.problems = settings.problems
        self.telemetry = settings.telemetry

    async def start(self, host: Host) -> None:
        pass

    async def shutdown(self) -> None:
        pass


@dataclass(slots=True)
class CreateSettings:
    """Handed to every create function."""

    id: ComponentID
    kind: Kind
    telemetry: ComponentTelemetry
    logger: logging.Logger
    #: the one way to report a problem: counted always, logged at most once a minute
    problems: ProblemLog
    #: for processors and connectors-as-exporters: the pipeline this instance sits in
    pipeline: str = ""

    @classmethod
    def for_component(cls, telemetry: Telemetry, kind: Kind, cid: ComponentID,
                      pipeline: str = "") -> CreateSettings:
        """The settings of component ``cid``: its self-metrics, logger and problem log."""
        logger = logging.getLogger(f"hangar_otelcol.{kind.value}.{cid}")
        counter = telemetry.counter(PROBLEMS_METRIC, "Problems reported by components, by "
                                    "problem (each is logged at most once a minute)",
                                    ("kind", "component", "problem"))
        return cls(id=cid, kind=kind, telemetry=telemetry.for_component(kind.value, str(cid)),
                   logger=logger,
                   problems=ProblemLog(logger, counter, (kind.value, str(cid))),
                   pipeline=pipeline)


C_contra = TypeVar("C_contra", contravariant=True)
C = TypeVar("C")
R = TypeVar("R")


class ReceiverCreate(Protocol[C_contra]):
    """One instance per receiver id, whatever pipelines use it; ``consumers`` has one entry
    per signal it feeds."""

    def __call__(self, settings: CreateSettings, config: C_contra,
                 consumers: Mapping[Signal, Consumer], /) -> Component: ...


class ProcessorCreate(Protocol[C_contra]):
    """One instance per pipeline; ``next_consumer`` is what follows it."""

    def __call__(self, settings: CreateSettings, config: C_contra, signal: Signal,
                 next_consumer: Consumer, /) -> ConsumingComponent: ...


class ExporterCreate(Protocol[C_contra]):
    """One instance per exporter id, for every signal."""

    def __call__(self, settings: CreateSettings, config: C_contra, /) -> ConsumingComponent: ...


class ConnectorCreate(Protocol[C_contra]):
    """A consumer in the pipelines that export to it, feeding ``consumers`` (the pipelines
    that receive from it, per signal)."""

    def __call__(self, settings: CreateSettings, config: C_contra,
                 consumers: Mapping[Signal, Consumer], /) -> ConsumingComponent: ...


class ExtensionCreate(Protocol[C_contra]):
    def __call__(self, settings: CreateSettings, config: C_contra, /) -> Component: ...


#: what a Factory holds; the kind's protocol above says how it is called
CreateFunc = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Factory:
    type: str
    kind: Kind
    config_class: builtins.type[Any]
    create: CreateFunc
    #: stability per signal; for extensions use {"extension": ...}
    stability: Mapping[str, Stability]
    #: connectors only: the (input, output) signal pairs supported
    connects: frozenset[tuple[Signal, Signal]] = frozenset()
    #: other spellings accepted in configs (e.g. otlp_grpc for otlp)
    aliases: tuple[str, ...] = ()
    description: str = ""
    #: extensions only: what other components may name it for (``ledger``, ...)
    provides: frozenset[str] = frozenset()

    @property
    def signals(self) -> frozenset[Signal]:
        return frozenset(Signal(s) for s in self.stability if s in Signal._value2member_map_)

    def default_config(self) -> Any:
        return self.config_class()


def _stability(stability: Mapping[Signal | str, Stability]) -> dict[str, Stability]:
    return {(k.value if isinstance(k, Signal) else k): v for k, v in stability.items()}


def receiver_factory(type_name: str, config_class: type[C], create: ReceiverCreate[C],
                     stability: Mapping[Signal | str, Stability], **more: Any) -> Factory:
    """``more``: ``aliases``, ``description`` (the Factory fields)."""
    return Factory(type_name, Kind.RECEIVER, config_class, create, _stability(stability), **more)


def processor_factory(type_name: str, config_class: type[C], create: ProcessorCreate[C],
                      stability: Mapping[Signal | str, Stability], **more: Any) -> Factory:
    return Factory(type_name, Kind.PROCESSOR, config_class, create, _stability(stability),
                   **more)


def exporter_factory(type_name: str, config_class: type[C], create: ExporterCreate[C],
                     stability: Mapping[Signal | str, Stability], **more: Any) -> Factory:
    return Factory(type_name, Kind.EXPORTER, config_class, create, _stability(stability), **more)


def connector_factory(type_name: str, config_class: type[C], create: ConnectorCreate[C],
                      stability: Mapping[Signal | str, Stability],
                      connects: frozenset[tuple[Signal, Signal]], **more: Any) -> Factory:
    return Factory(type_name, Kind.CONNECTOR, config_class, create, _stability(stability),
                   connects=connects, **more)


def extension_factory(type_name: str, config_class: type[C], create: ExtensionCreate[C],
                      stability: Stability, **more: Any) -> Factory:
    """``more``: ``provides`` (what other components may name it for), ``aliases``,
    ``description``."""
    return Factory(type_name, Kind.EXTENSION, config_class, create, {"extension": stability},
                   **more)


def feeding(signal: Signal, make: Callable[[CreateSettings, C, Consumer], R]
            ) -> Callable[[CreateSettings, C, Mapping[Signal, Consumer]], R]:
    """A receiver's or connector's create function for a component that produces only
    ``signal``: ``make(settings, config, the one consumer)`` (``consumer_of``)."""
    def create(settings: CreateSettings, config: C, consumers: Mapping[Signal, Consumer]) -> R:
        return make(settings, config, consumer_of(consumers, signal, settings))

    return create


def consumer_of(consumers: Mapping[Signal, Consumer], signal: Signal,
                settings: CreateSettings) -> Consumer:
    """The one consumer a receiver or connector that produces only ``signal`` feeds; a
    permanent error naming the component if no pipeline of that signal receives from it."""
    consumer = consumers.get(signal)
    if consumer is None:
        raise ConsumerError(f"{settings.id}: the {settings.id.type} {settings.kind.value} "
                            f"produces {signal.value}; use it as a receiver of a "
                            f"{signal.value} pipeline", permanent=True)
    return consumer
