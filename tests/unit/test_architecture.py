"""The dependency rules of docs/architecture.md, read from the code's imports.

An ``ast`` walk over ``src/moorage`` collects every import of every module
(function-local ones included; those under ``if TYPE_CHECKING:`` are not
run-time dependencies and are left out) and checks the layering, the absence
of cycles between top-level packages, and module size.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "moorage"
MAX_LINES = 400

FORBIDDEN: list[tuple[str, str, str]] = [
    ("api", "drivers", "routers reach runtimes through services"),
    ("web", "drivers", "pages reach runtimes through services"),
    ("web", "api.v1", "pages call services, never route functions"),
    ("drivers", "api", "drivers sit below everything"),
    ("drivers", "web", "drivers sit below everything"),
    ("drivers", "gateway", "drivers sit below everything"),
    ("drivers", "services", "drivers sit below everything"),
    ("models", "services", "models hold data, not domain logic"),
    ("reconciler", "api", "the reconciler runs without the web layer"),
    ("reconciler", "web", "the reconciler runs without the web layer"),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Every ``moorage.…`` module or name ``path`` imports at run time."""
    module = _module_name(path)
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return {name for name in found if name == "moorage" or name.startswith("moorage.")}


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _layer(name: str) -> str:
    """``moorage.api.v1.sessions`` → ``api``; ``moorage.app`` → ``app``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _within(name: str, prefix: str) -> bool:
    dotted = f"moorage.{prefix}"
    return name == dotted or name.startswith(dotted + ".")


def import_graph() -> dict[str, set[str]]:
    """``{module: {imported moorage names}}`` for every module of the package."""
    return {_module_name(path): _imports(path) for path in _sources()}


def layer_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Edges between top-level packages (``api → services``), self-edges left out."""
    layers: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            if target != "moorage" and _layer(module) != _layer(target):
                layers[_layer(module)].add(_layer(target))
    return layers


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_the_walk_sees_known_imports() -> None:
    # Guards the checks below against a walk that silently finds nothing.
    graph = import_graph()
    assert "moorage.app" in graph
    assert any(_within(target, "api") for target in graph["moorage.app"])
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


@pytest.mark.parametrize(("source", "target", "why"), FORBIDDEN)
def test_no_forbidden_import(source: str, target: str, why: str) -> None:
    offending = sorted(
        f"{module} imports {name}"
        for module, names in import_graph().items()
        if _within(module, source)
        for name in names
        if _within(name, target)
    )
    assert not offending, f"{source}/ must not import {target}/ ({why}):\n" + "\n".join(offending)


def test_no_import_cycle_between_top_level_packages() -> None:
    graph = import_graph()
    found = cycles(layer_graph(graph))
    detail = []
    for component in found:
        members = set(component)
        for module, names in sorted(graph.items()):
            for name in sorted(names):
                if (
                    _layer(module) in members
                    and _layer(name) in members
                    and _layer(module) != _layer(name)
                ):
                    detail.append(f"  {module} imports {name}")
    assert not found, f"import cycles between packages: {found}\n" + "\n".join(detail)


def test_no_module_over_the_size_limit() -> None:
    too_long = sorted(
        f"{path.relative_to(SRC)}: {lines} lines"
        for path in _sources()
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    )
    assert not too_long, f"split these modules by concept (limit {MAX_LINES}):\n" + "\n".join(
        too_long
    )
