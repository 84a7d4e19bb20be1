"""The component registry.

Built-in components are found by convention: every sub-package of
``hangar_otelcol.{receivers,processors,exporters,connectors,extensions}`` has a
``factory.py`` defining ``FACTORY`` (or ``FACTORIES``). Third-party components
register through the ``hangar_otelcol.components`` entry-point group, whose
objects are Factory instances.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from importlib.metadata import entry_points

from hangar_otelcol.component import Factory, Kind

_PACKAGES = {kind: f"hangar_otelcol.{kind.section}" for kind in Kind}


class ComponentLoadError(Exception):
    """A component package could not be imported (one line for the operator)."""


class Registry:
    def __init__(self, factories: Iterable[Factory] = ()) -> None:
        self._by_kind: dict[Kind, dict[str, Factory]] = {kind: {} for kind in Kind}
        for factory in factories:
            self.add(factory)

    def add(self, factory: Factory) -> None:
        table = self._by_kind[factory.kind]
        for name in (factory.type, *factory.aliases):
            if name in table and table[name] is not factory:
                raise ValueError(f"duplicate {factory.kind.value} type {name!r}")
            table[name] = factory

    def get(self, kind: Kind, type_name: str) -> Factory | None:
        return self._by_kind[kind].get(type_name)

    def types(self, kind: Kind) -> list[str]:
        return sorted(self._by_kind[kind])

    def factories(self, kind: Kind) -> list[Factory]:
        """Each factory once (aliases folded), sorted by type."""
        unique = {id(f): f for f in self._by_kind[kind].values()}
        return sorted(unique.values(), key=lambda f: f.type)


def _builtin_factories() -> Iterable[Factory]:
    for package_name in _PACKAGES.values():
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.ispkg or info.name.startswith("_"):
                continue
            name = f"{package_name}.{info.name}.factory"
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue  # a helper package without a factory
                raise ComponentLoadError(f"cannot load component {name}: {exc}") from exc
            except Exception as exc:
                raise ComponentLoadError(
                    f"cannot load component {name}: {type(exc).__name__}: {exc}") from exc
            yield from getattr(module, "FACTORIES", ())
            if hasattr(module, "FACTORY"):
                yield module.FACTORY


def _plugin_factories() -> Iterable[Factory]:
    for ep in entry_points(group="hangar_otelcol.components"):
        obj = ep.load()
        yield from (obj if isinstance(obj, (list, tuple)) else [obj])


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Registry([*_builtin_factories(), *_plugin_factories()])
    return _DEFAULT
