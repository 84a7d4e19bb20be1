"""The shape of the code: no import cycles, generated protobuf code current, types checked."""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.paths import REPO

#: top-level folders that install as hangar_otelcol.<name> (setup.py)
COMPONENT_DIRS = ("receivers", "processors", "exporters", "connectors", "extensions")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    roots = [(REPO / "hangar_otelcol", "hangar_otelcol")] + [
        (REPO / d, f"hangar_otelcol.{d}") for d in COMPONENT_DIRS]
    for root, prefix in roots:
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("").parts
            if rel and rel[-1] == "__init__":
                rel = rel[:-1]
            out[".".join((prefix, *rel))] = path
    return out


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Modules of the project that ``module`` imports, anywhere but under TYPE_CHECKING."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            name = test.id if isinstance(test, ast.Name) else \
                test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    out = set()
    for name in found:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_module_of_the_gateway_imports_another_in_a_cycle() -> None:
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    assert len(graph) > 100  # the runtime and every component were read
    assert "hangar_otelcol.config.gateway" in graph["hangar_otelcol.cli"]  # edges are seen
    assert "hangar_otelcol.mcp.reader" in graph["hangar_otelcol.receivers.otlp.receiver"] \
        or "hangar_otelcol.pdata" in graph["hangar_otelcol.receivers.otlp.receiver"]
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_generated_protobuf_code_is_current() -> None:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["bash", str(REPO / "scripts" / "gen-proto.sh"), out], check=True,
                       cwd=REPO, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
                       timeout=120)
        generated = sorted(p.relative_to(out) for p in Path(out).rglob("*_pb2.py*"))
        assert generated, "gen-proto.sh generated nothing"
        for rel in generated:
            committed = REPO / rel
            assert committed.read_bytes() == (Path(out) / rel).read_bytes(), (
                f"{rel} is not current: run scripts/gen-proto.sh and commit the result")
