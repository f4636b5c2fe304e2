"""The package layout is the data path: every module is documented, imports point down.

These read the source as text (``ast``), so they fail on a new module nobody documented, on
an import that reaches up a layer (a detector importing the plugin, the gate importing a
report), and on a scenario module that imports leakbench's private packages.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import leakbench

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "leakbench"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

ALLOWED: dict[str, set[str]] = {
    "_util": set(),
    "detectors": {"_util"},
    "gate": {"_util"},
    "plugin": {"_util", "detectors", "gate"},
    "workers": {"_util", "plugin"},
    "reports": {"_util", "gate", "workers"},
    "cli": {"_util", "gate", "workers", "reports", "plugin", "detectors"},
}
"""Which packages each package may import (besides itself and the ``leakbench`` root's
``__version__``): the layers of docs/architecture.md, top (cli) to bottom (_util)."""

PUBLIC_API = ["Iteration", "Scenario", "Variant", "__version__", "discover"]


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def dotted(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """(imported leakbench module, line, at module level) for every import in ``path``.

    ``from leakbench.x import y`` yields ``leakbench.x.y`` when ``y`` is a module, else
    ``leakbench.x``. Imports under ``if TYPE_CHECKING:`` are skipped: they never run.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for child in node.body for n in ast.walk(child)}
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "leakbench" or node.module.startswith("leakbench."):
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    name = candidate if _is_module(candidate) else node.module
                    yield name, node.lineno, id(node) in top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("leakbench"):
                    yield alias.name, node.lineno, id(node) in top


def _is_module(name: str) -> bool:
    base = SRC.parent / Path(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_every_module_under_src_is_named_in_the_architecture_page() -> None:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w./]+\.py)`", page))
    missing = []
    for path in modules():
        relative = path.relative_to(SRC).as_posix()
        if path.name == "__init__.py" and path.parent != SRC:
            continue  # a package's __init__ is named by its package's line
        if relative not in named:
            missing.append(relative)
    assert not missing, f"docs/architecture.md does not name: {', '.join(missing)}"


def test_the_architecture_page_names_no_module_that_does_not_exist() -> None:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    stale = [
        name
        for name in set(re.findall(r"`([\w/]+/[\w]+\.py|[\w]+\.py)`", page))
        if (name.split("/")[0] in ALLOWED or "/" not in name) and not (SRC / name).is_file()
    ]
    assert not stale, f"docs/architecture.md names missing modules: {', '.join(sorted(stale))}"


def test_the_package_has_at_most_four_top_level_modules() -> None:
    top = sorted(p.name for p in SRC.glob("*.py"))
    assert len(top) <= 4, top


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.relative_to(SRC).as_posix())
def test_imports_only_point_down_the_layers(path: Path) -> None:
    if path.parent == SRC:
        return  # the root re-exports the public API; __main__ starts the command line
    here = package_of(dotted(path))
    allowed = ALLOWED[here] | {here}
    wrong = [
        f"line {line}: {name}"
        for name, line, _ in imports(path)
        if name != "leakbench" and package_of(name) not in allowed
    ]
    assert not wrong, f"{dotted(path)} ({here}) imports a higher or sibling layer: {wrong}"


def test_no_two_modules_import_each_other_at_module_level() -> None:
    graph: dict[str, set[str]] = {}
    for path in modules():
        graph[dotted(path)] = {name for name, _, top in imports(path) if top}
    cycles = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        if node in stack:
            cycles.append(" -> ".join([*stack[stack.index(node) :], node]))
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*stack, node], done)
        done.add(node)

    done: set[str] = set()
    for node in sorted(graph):
        visit(node, [], done)
    assert not cycles, cycles[:3]


def test_the_public_api_is_pinned() -> None:
    assert leakbench.__all__ == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(leakbench, name) is not None


@pytest.mark.parametrize("path", sorted((ROOT / "suites").glob("*.py")), ids=lambda p: p.name)
def test_scenario_modules_import_only_the_public_api(path: Path) -> None:
    private = [name for name, _, _ in imports(path) if name != "leakbench"]
    assert not private, f"{path.name} imports private leakbench modules: {private}"
