"""The layers of core/ (docs/ARCHITECTURE.md): every import, also those inside functions and
under TYPE_CHECKING, points down; core never imports Streamlit; ui never imports the pages."""

from __future__ import annotations

import ast
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
