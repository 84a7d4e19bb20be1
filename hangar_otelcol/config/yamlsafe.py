"""The one YAML loader for configs and pricing files, with bounds (issue 13).

``yaml.safe_load`` builds an alias as a shared reference, so loading an "alias bomb"
(``b: [*a, *a, ...]`` nested a few levels) is quick, but everything that then walks the data
as a tree (``${...}`` expansion, validation, an error message quoting a value) expands it:
a 453-byte config took 35 s and 1.3 GB to ``validate``. Like Go's yaml.v3, the document is
refused before anything walks it when

* the text is longer than ``max_bytes`` (16 MiB by default),
* it uses more than ``MAX_ALIASES`` (100) aliases,
* expanding the aliases would add more than ``MAX_EXPANDED_NODES`` (100,000) nodes to the
  ones written in the text, or
* it nests more than ``MAX_DEPTH`` (200) collections deep.

The composer is libyaml's (``yaml.CSafeLoader``) when PyYAML has it, else the pure-Python
``yaml.SafeLoader``; the checks run on the composed node graph, before any value is built.
"""

from __future__ import annotations

from typing import Any

import yaml

#: the most aliases (``*name``, merge keys included) one document may use
MAX_ALIASES = 100
#: the most nodes alias expansion may add to the nodes written in the text
MAX_EXPANDED_NODES = 100_000
#: the deepest nesting of collections
MAX_DEPTH = 200
#: the largest config or pricing file (and ``env:``/``yaml:`` source, ``${file:...}``)
MAX_BYTES = 16 * 1024 * 1024

_Loader: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


class YamlLimitError(yaml.YAMLError):
    """A document over a bound; ``mark`` is where (0-based line/column) or None."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def describe(exc: yaml.YAMLError, where: str) -> str:
    """One line for a YAML error: ``where: line L, column C: too many ...`` for a bound,
    ``where: invalid YAML (line L, column C): problem`` for a syntax error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, YamlLimitError):
        at = f": line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{where}{at}: {problem}"
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{where}: invalid YAML{at}: {problem}"


def load(text: str | bytes, *, max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML document like ``yaml.safe_load``, within the bounds above.

    Raises ``yaml.YAMLError`` (``YamlLimitError`` for a bound) with ``problem_mark`` set
    when the position is known."""
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str)
               and len(text) * 4 > max_bytes else text)
    if size > max_bytes:
        raise YamlLimitError(f"larger than {max_bytes} bytes ({size} bytes): "
                             f"YAML documents are limited")
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep") from None
        if node is None:
            return None
        check_node(node)
        try:
            return loader.construct_document(node)
        except (ValueError, OverflowError, RecursionError) as exc:
            # e.g. an integer of more than 4300 digits (int() refuses it)
            raise YamlLimitError(f"cannot use a value: {str(exc)[:120]}") from None
    finally:
        loader.dispose()


def check_node(root: yaml.Node) -> None:
    """Refuse too many aliases, too much expansion, a recursive alias or too deep nesting,
    walking each node of the graph once (iteratively: no recursion on deep documents)."""
    # an alias is an edge to a node reached already: count those edges. sizes: expanded
    # size of each finished node; OPEN while its children are being walked
    sizes: dict[int, int] = {}
    composed = 0
    aliases = 0
    # (node, depth, parent, exiting)
    stack: list[tuple[Any, int, Any, bool]] = [(root, 1, None, False)]
    while stack:
        node, depth, parent, exiting = stack.pop()
        key = id(node)
        if exiting:  # every child is finished: its expanded size is known
            if isinstance(node, yaml.SequenceNode):
                total = 1 + sum(sizes[id(c)] for c in node.value)
            else:
                total = 1 + sum(sizes[id(k)] + sizes[id(v)] for k, v in node.value)
            sizes[key] = total
            if total - composed > MAX_EXPANDED_NODES:
                raise YamlLimitError(f"too many YAML nodes after alias expansion (more "
                                     f"than {MAX_EXPANDED_NODES} added): alias expansion "
                                     "is limited", node.start_mark)
            continue
        if key in sizes:
            aliases += 1
            if sizes[key] == _OPEN:
                raise YamlLimitError("recursive YAML alias (a node inside itself)",
                                     _child_mark(parent, node))
            if aliases > MAX_ALIASES:
                raise YamlLimitError(f"too many YAML aliases (more than {MAX_ALIASES}): "
                                     "alias expansion is limited", _child_mark(parent, node))
            continue
        composed += 1
        if depth > MAX_DEPTH:
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep",
                                 node.start_mark)
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            sizes[key] = 1
            continue
        sizes[key] = _OPEN
        stack.append((node, depth, parent, True))
        # reversed: popped in document order, so an anchor is reached before its aliases
        stack.extend((child, depth + 1, node, False) for child in reversed(children))


_OPEN = -(2**62)


def _child_mark(parent: Any, child: Any) -> Any:
    """Where an alias is used: the key it is the value of, else its collection."""
    if isinstance(parent, yaml.MappingNode):
        for key, value in parent.value:
            if value is child:
                return key.start_mark
    return parent.start_mark if parent is not None else None


def read_text(path: str, max_bytes: int = MAX_BYTES) -> str:
    """A UTF-8 text file of at most ``max_bytes``: reads no more than that, whatever the
    file's size. Raises OSError, UnicodeDecodeError, or YamlLimitError when larger."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YamlLimitError(f"larger than {max_bytes} bytes: YAML files are limited")
    return data.decode("utf-8")
