"""A dashboard JSON checked against Grafana's dashboard model, as grafana-foundation-sdk
generates it from Grafana's own schemas (``grafana_foundation_sdk.models.dashboard``, the
panel plugins' ``Options``/``FieldConfig`` and the Prometheus ``Dataquery``).

The SDK parses JSON into its typed classes (``Dashboard.from_json``) but checks nothing while
doing so, so validation is three steps over what it parsed:

- ``unknown``: every panel type and every query is one the SDK knows (a typo'd panel type
  or a query without a datasource type stays an untyped dict / ``UnknownDataquery``);
- ``type_errors``: every field of every parsed object has the type its annotation in the
  SDK says (``typing.get_type_hints``: ``Optional``, unions, ``Literal``, enums, lists);
- ``lost``: the parsed model encoded again (the SDK's ``JSONEncoder``) still holds every
  key and value of the file, so no key is one the schema does not have (a misspelled
  ``gridpos`` or a key at the wrong level would be dropped).
"""

from __future__ import annotations

import enum
import json
import typing
from typing import Any

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, RowPanel


def load(doc: dict[str, Any]) -> Dashboard:
    """``doc`` parsed into the SDK's typed model (panel options and queries included)."""
    plugins.register_default_plugins()  # the panel and datasource types, once per process
    return Dashboard.from_json(doc)


def panels(model: Dashboard) -> list[Panel | RowPanel]:
    """Every panel, those inside rows included."""
    out: list[Panel | RowPanel] = []
    for panel in model.panels or []:
        out.append(panel)
        if isinstance(panel, RowPanel):
            out.extend(panel.panels)
    return out


def unknown(model: Dashboard) -> list[str]:
    """Panels of a type and queries of a datasource the SDK does not know."""
    errors = []
    for panel in panels(model):
        if isinstance(panel, RowPanel):
            continue
        where = f"panel {panel.id_val} ({panel.title!r})"
        if cogruntime.panelcfg_config(panel.type_val) is None:
            errors.append(f"{where}: unknown panel type {panel.type_val!r}")
        for target in panel.targets or []:
            if isinstance(target, cogruntime.UnknownDataquery):
                errors.append(f"{where}: query of no known datasource type: {target.data!r}")
    return errors


def type_errors(obj: Any, path: str = "dashboard") -> list[str]:
    """Fields of ``obj`` (an SDK model object) and everything below it whose value does
    not have the annotated type."""
    errors: list[str] = []
    for name, hint in typing.get_type_hints(type(obj)).items():
        _check(getattr(obj, name), hint, f"{path}.{name}", errors)
    return errors


def lost(doc: dict[str, Any], model: Dashboard) -> list[str]:
    """Keys and values of ``doc`` that the model, encoded again, no longer has."""
    encoded = json.loads(json.dumps(model, cls=JSONEncoder))
    out: list[str] = []
    _missing(doc, encoded, "dashboard", out)
    return out


def _is_model(value: Any) -> bool:
    cls = value if isinstance(value, type) else type(value)
    return cls.__module__.startswith("grafana_foundation_sdk.") and hasattr(cls, "to_json")


def _check(value: Any, hint: Any, path: str, errors: list[str]) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any or hint is object:
        if _is_model(value):
            errors.extend(type_errors(value, path))
        return
    if origin is typing.Union:
        trials = []
        for arm in args:
            trial: list[str] = []
            _check(value, arm, path, trial)
            if not trial:
                return
            trials.append((_shaped(value, arm), trial))
        # say what is wrong inside the arm the value is shaped like (the list of panels,
        # not "not Optional[list[Panel | RowPanel]]")
        shaped = [trial for ok, trial in trials if ok]
        errors.extend(shaped[0] if shaped else [f"{path}: {value!r:.80} is not {hint}"])
        return
    if origin is typing.Literal:
        # type() too: True == 1 in Python, not in the schema
        if not any(value == a and type(value) is type(a) for a in args):
            errors.append(f"{path}: {value!r:.80} is not one of {args}")
        return
    if origin is list:
        if not isinstance(value, list):
            errors.append(f"{path}: {value!r:.80} is not a list")
            return
        for i, item in enumerate(value):
            _check(item, args[0], f"{path}[{i}]", errors)
        return
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(f"{path}: {value!r:.80} is not an object")
            return
        for key, item in value.items():
            _check(item, args[1], f"{path}.{key}", errors)
        return
    if hint is type(None):
        if value is not None:
            errors.append(f"{path}: {value!r:.80} is not null")
        return
    if not isinstance(hint, type):
        errors.append(f"{path}: cannot check against {hint!r}")
        return
    if issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
        if not (isinstance(value, hint)
                or any(value == v and type(value) is type(v) for v in values)):
            errors.append(f"{path}: {value!r:.80} is not one of {values}")
        return
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    if not ok:
        errors.append(f"{path}: {value!r:.80} is not of type {hint.__name__}")
    elif _is_model(value):  # a typed object (a panel's Options, a prometheus Dataquery)
        errors.extend(type_errors(value, path))


def _shaped(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the outer kind of ``hint`` (a list for list[X], ...)."""
    origin = typing.get_origin(hint)
    if origin is not None:
        return origin is not typing.Literal and isinstance(value, origin)
    return isinstance(hint, type) and isinstance(value, hint)


def _missing(orig: Any, enc: Any, path: str, out: list[str]) -> None:
    if isinstance(orig, dict):
        if not isinstance(enc, dict):
            out.append(f"{path}: an object became {enc!r:.80}")
            return
        for key, value in orig.items():
            if key not in enc:
                out.append(f"{path}.{key}: not in Grafana's model (dropped by it)")
            else:
                _missing(value, enc[key], f"{path}.{key}", out)
    elif isinstance(orig, list):
        if not isinstance(enc, list) or len(enc) != len(orig):
            out.append(f"{path}: a list of {len(orig)} became {enc!r:.80}")
            return
        for i, (a, b) in enumerate(zip(orig, enc, strict=True)):
            _missing(a, b, f"{path}[{i}]", out)
    elif orig != enc or isinstance(orig, bool) != isinstance(enc, bool):
        out.append(f"{path}: {orig!r:.80} became {enc!r:.80}")
