"""The layers of core/ (docs/ARCHITECTURE.md): every import, also those inside functions and
under TYPE_CHECKING, points down; no two modules of a package import each other, directly or
round a longer circle; core never imports Streamlit; ui never imports the pages."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Lower rank first; a module may import its own package and anything of a lower rank.
RANKS = {
    "core.errors": 0,
    "core.env": 1,
    "core.io": 1,
    "core.records": 1,
    "core.data": 2,
    "core.config": 3,
    "core.model": 4,
    "core.quality": 5,
    "core.train": 6,
    "core.label": 6.5,  # labelling: uses model/ and train/ (label names); runs and doors use it
    "core.runs": 7,
    "core.serve": 8,
    "core.batch": 8,
    "core.downloads": 8,
    "core.cli": 9,
}
FACADES = {"core", "core.__main__"}  # the public API (lazy, by name) and `python -m core`


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    for prefix in sorted(RANKS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    raise AssertionError(f"{module} belongs to no layer: add it to RANKS and ARCHITECTURE.md")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the file, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # `from core import cli` imports the module core.cli
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


CORE_FILES = sorted((ROOT / "core").rglob("*.py"))


def test_every_core_module_has_a_layer():
    for path in CORE_FILES:
        name = module_name(path)
        if name not in FACADES:
            layer(name)


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path):
    source = module_name(path)
    if source in FACADES:
        return
    own = layer(source)
    wrong = []
    for line, target in imports(path):
        root = target.split(".")[0]
        assert root != "streamlit", f"{path}:{line} imports Streamlit: core must not"
        if root != "core" or target in FACADES or target in ("core.__init__",):
            continue
        try:
            theirs = layer(target)
        except AssertionError:
            continue  # `from core.x import name`: the name, not a module
        if theirs != own and RANKS[theirs] >= RANKS[own]:
            wrong.append(f"{path.relative_to(ROOT)}:{line} ({own}) imports {target} ({theirs})")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_the_app_layers():
    """app_pages -> ui -> core: ui never imports a page."""
    for path in sorted((ROOT / "ui").rglob("*.py")):
        for line, target in imports(path):
            assert not target.startswith("app_pages"), f"{path}:{line} imports {target}"


# -- no circles inside a package ----------------------------------------------------------------

MODULES = {module_name(path) for path in CORE_FILES}
PACKAGES = {module_name(path) for path in CORE_FILES if path.name == "__init__.py"}
# Circles others are breaking now (issue 27), by package: the modules of each. (distributed
# closes one through its TYPE_CHECKING import of recipe.Reporter.)
BEING_BROKEN: dict[str, list[set[str]]] = {}


def _parts(module: str) -> list[str]:
    """`core.model.onnx.check` -> core, model, onnx, check; a package's own file is `__init__`."""
    return module.split(".") + (["__init__"] if module in PACKAGES else [])


def package_imports() -> dict[str, dict[str, set[str]]]:
    """For each package, which of its parts (its modules, its sub-packages taken whole, and
    `__init__` for its own file) import which others: every import, also inside functions and
    under TYPE_CHECKING, as the layers count them."""
    graphs: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in CORE_FILES:
        source = _parts(module_name(path))
        for _, target in imports(path):
            theirs = _parts(target) if target in MODULES else source
            if theirs == source:
                continue  # not core, `from core.x import name` (the name), or itself
            shared = 0  # the parts the two share: the package they both are in
            while source[shared] == theirs[shared]:
                shared += 1
            package = ".".join(source[:shared])
            graphs[package][source[shared]].add(theirs[shared])
    return graphs


def circles() -> dict[str, list[set[str]]]:
    """Per package, each set of its parts that import each other (directly or round a circle)."""
    found: dict[str, list[set[str]]] = {}
    for package, graph in sorted(package_imports().items()):

        def reach(start: str, graph: dict[str, set[str]] = graph) -> set[str]:
            seen, todo = set(), [start]
            while todo:
                for after in graph.get(todo.pop(), ()):
                    if after not in seen:
                        seen.add(after)
                        todo.append(after)
            return seen

        reachable = {part: reach(part) for part in sorted(graph)}
        grouped: set[str] = set()
        for part in sorted(graph):
            circle = {part} | {p for p in reachable[part] if part in reachable.get(p, ())}
            if len(circle) > 1 and part not in grouped:
                grouped |= circle
                found.setdefault(package, []).append(circle)
    return found


def _describe(found: dict[str, list[set[str]]]) -> str:
    return "\n".join(
        f"{package}: {' <-> '.join(sorted(circle))}"
        for package, package_circles in found.items()
        for circle in package_circles
    )


def test_no_circles_beyond_those_being_broken():
    """A package free of circles stays free; a circle being broken may only shrink."""
    new = {
        package: [
            circle
            for circle in package_circles
            if not any(circle <= known for known in BEING_BROKEN.get(package, []))
        ]
        for package, package_circles in circles().items()
    }
    new = {package: found for package, found in new.items() if found}
    assert not new, "modules of one package that import each other:\n" + _describe(new)


def test_no_circles_between_the_modules_of_a_package():
    found = circles()
    assert not found, "modules of one package that import each other:\n" + _describe(found)
