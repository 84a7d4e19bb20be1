from __future__ import annotations

import importlib.util

from tests.support.paths import REPO


def test_components_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen", REPO / "scripts/gen-components-doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (REPO / "docs/components.md").read_text() == module.render(), \
        "docs/components.md is stale: run .venv/bin/python scripts/gen-components-doc.py"
