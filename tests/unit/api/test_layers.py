"""The front ends do not import each other: api never imports web, the gateway and
security never import api, and security stays below services and the context."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import moorage

ROOT = Path(moorage.__file__).parent


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level moorage packages each module of ``package`` imports (anywhere in the
    module, ``if TYPE_CHECKING:`` blocks aside)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block)
        }
        names: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = {
            name.split(".")[1] for name in names if name.startswith("moorage.") and "." in name
        }
    return found


@pytest.mark.parametrize(
    "package,forbidden",
    [
        ("api", {"web"}),
        ("gateway", {"api", "web"}),
        ("security", {"api", "web", "gateway", "services", "context"}),
    ],
)
def test_a_package_does_not_import_the_layers_above_it(package, forbidden):
    offenders = {
        module: sorted(packages & forbidden)
        for module, packages in imported_packages(package).items()
        if packages & forbidden
    }
    assert offenders == {}
