from __future__ import annotations

from pathlib import Path

import pytest

import hangar_otelcol.receivers
from hangar_otelcol import registry
from hangar_otelcol.component import Kind


def test_builtin_components_are_found_by_folder() -> None:
    reg = registry.default_registry()
    assert reg.get(Kind.RECEIVER, "otlp") is not None
    assert reg.get(Kind.EXPORTER, "otlphttp") is reg.get(Kind.EXPORTER, "otlp_http")


def test_a_broken_component_package_is_one_clear_error(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "halfwritten"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "factory.py").write_text("raise RuntimeError('not finished')\n")
    monkeypatch.setattr(hangar_otelcol.receivers, "__path__",
                        [*hangar_otelcol.receivers.__path__, str(tmp_path)])
    with pytest.raises(registry.ComponentLoadError) as err:
        list(registry._builtin_factories())
    assert str(err.value) == ("cannot load component hangar_otelcol.receivers.halfwritten."
                              "factory: RuntimeError: not finished")
