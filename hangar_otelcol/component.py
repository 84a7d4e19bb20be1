"""The component model: ids, kinds, stability, factories and the lifecycle protocols.

Every receiver, processor, exporter, connector and extension is described by a
``Factory``: its type name, its config dataclass (with defaults), a create
function and its stability. Components implement ``Component`` (start /
shutdown); everything that accepts data implements ``Consumer``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from hangar_otelcol.pdata import Batch, Signal

if TYPE_CHECKING:
    from hangar_otelcol.telemetry import ComponentTelemetry, Telemetry


class Kind(str, enum.Enum):
    RECEIVER = "receiver"
    PROCESSOR = "processor"
    EXPORTER = "exporter"
    CONNECTOR = "connector"
    EXTENSION = "extension"

    @property
    def section(self) -> str:
        """The top-level config key for this kind (``receivers``, ...)."""
        return self.value + "s"


class Stability(str, enum.Enum):
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

    def extension(self, component_id: ComponentID) -> Any: ...

    def report_status(self, component_id: ComponentID, kind: Kind, ok: bool, message: str) -> None:
        ...

    def component_statuses(self) -> Mapping[str, tuple[bool, str]]: ...

    @property
    def ready(self) -> bool: ...


class Component(Protocol):
    async def start(self, host: Host) -> None: ...

    async def shutdown(self) -> None: ...


class BaseComponent:
    """Convenience base: no-op lifecycle, not mutating."""

    mutates_data = False

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
    #: for processors and connectors-as-exporters: the pipeline this instance sits in
    pipeline: str = ""

    @classmethod
    def for_component(cls, telemetry: Telemetry, kind: Kind, cid: ComponentID,
                      pipeline: str = "") -> CreateSettings:
        """The settings of component ``cid``: its self-metrics and its logger."""
        return cls(id=cid, kind=kind, telemetry=telemetry.for_component(kind.value, str(cid)),
                   logger=logging.getLogger(f"hangar_otelcol.{kind.value}.{cid}"),
                   pipeline=pipeline)


# create signatures, per kind:
#   receiver:  create(settings, config, consumers: dict[Signal, Consumer]) -> Component
#   processor: create(settings, config, signal: Signal, next: Consumer) -> Component & Consumer
#   exporter:  create(settings, config) -> Component & Consumer (one instance for all signals)
#   connector: create(settings, config, consumers: dict[Signal, Consumer]) -> Component & Consumer
#   extension: create(settings, config) -> Component
CreateFunc = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Factory:
    type: str
    kind: Kind
    config_class: type[Any]
    create: CreateFunc
    #: stability per signal; for extensions use {"extension": ...}
    stability: Mapping[str, Stability]
    #: connectors only: the (input, output) signal pairs supported
    connects: frozenset[tuple[Signal, Signal]] = frozenset()
    #: other spellings accepted in configs (e.g. otlp_grpc for otlp)
    aliases: tuple[str, ...] = ()
    description: str = ""

    @property
    def signals(self) -> frozenset[Signal]:
        return frozenset(Signal(s) for s in self.stability if s in Signal._value2member_map_)

    def default_config(self) -> Any:
        return self.config_class()
