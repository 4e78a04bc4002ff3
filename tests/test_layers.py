"""lib/ is built in floors, and an import may only point down (README.md, "Layout"): a module
may import its own floor and the ones below it, never one above. This test reads every import
in lib/ (lazy ones inside functions too) and fails on the first that points up."""
import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parent.parent / "lib"
# top to bottom; the top-level modules of lib/ (the command) form the top floor
FLOORS = ["", "web", "events", "modules", "access", "core", "db", "itflow"]


def _floor(module):
    """The floor of a dotted module name under lib ('' for lib's own top-level modules)."""
    parts = module.split(".")
    return parts[0] if len(parts) > 1 and parts[0] in FLOORS else ""


def _imports(path):
    """(line, dotted module under lib) for every import of lib code in the file."""
    here = path.relative_to(LIB).with_suffix("").parts
    package = here[:-1] if path.name != "__init__.py" else here[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package)[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
                if node.level - 1 > len(package):
                    continue  # above lib/: the package root (itflow_api.__version__)
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.startswith("itflow_api.lib."):
                target = node.module.split(".")[2:]
            else:
                continue
            if not target:  # `from . import x` at lib's top: x itself is the module
                target = [node.names[0].name]
            elif target[0] in FLOORS and len(target) == 1:  # `from ..core import envelope`
                target = target + [node.names[0].name]
            yield node.lineno, ".".join(target)


SOURCES = sorted(p for p in LIB.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(LIB)) for p in SOURCES])
def test_imports_point_down(path):
    own = _floor(".".join(path.relative_to(LIB).with_suffix("").parts))
    up = [f"line {line}: {target} (floor {_floor(target) or 'lib/'})" for line, target in _imports(path)
          if FLOORS.index(_floor(target)) < FLOORS.index(own)]
    assert not up, f"{path.relative_to(LIB)} (floor {own or 'lib/'}) imports from a floor above: {up}"


def test_every_folder_of_lib_is_a_floor():
    folders = {p.name for p in LIB.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(FLOORS) - {""}
