"""The installed package: one namespace, every import declared, no import cycles."""
from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SOURCE_DIRS = {"lstmzip": ROOT / "lstmzip", "lstmzip.codec": ROOT / "codec", "lstmzip.models": ROOT / "models"}


def _modules() -> dict[str, Path]:
    """Module name -> file, for every module the wheel installs."""
    out = {}
    for package, folder in SOURCE_DIRS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    if top_level_only:  # module-level statements, `if`/`try` blocks included, run at import time
        nodes = [n for stmt in tree.body if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 for n in ast.walk(stmt)]
    else:
        nodes = ast.walk(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def test_everything_installs_under_lstmzip():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert all(p == "lstmzip" or p.startswith("lstmzip.") for p in setuptools["packages"])
    assert setuptools["package-dir"] == {"lstmzip.codec": "codec", "lstmzip.models": "models"}
    assert (ROOT / "lstmzip" / "py.typed").is_file()
    assert "py.typed" in setuptools["package-data"]["lstmzip"]


def test_every_imported_package_is_declared():
    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}

    project = PYPROJECT["project"]
    required = names(project["dependencies"])
    optional = set().union(*(names(v) for v in project["optional-dependencies"].values()))
    undeclared = {}
    for module, path in _modules().items():
        at_import = _imports(path, module, top_level_only=True)
        for name in _imports(path, module, top_level_only=False):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("lstmzip", "__future__"):
                continue
            # torch, numpy, ... at import time must be required; extras only inside functions
            if top.lower() not in (required | optional) or (
                    top.lower() not in required and name in at_import):
                undeclared.setdefault(top, set()).add(module)
    assert not undeclared, f"imported but not declared (or an extra imported at module level): {undeclared}"


def test_no_import_cycles():
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        deps = set()
        for name in _imports(path, module, top_level_only=False):  # imports inside functions too
            while name and name not in modules:  # `from a.b import c` where c is a name, not a module
                name = name.rpartition(".")[0]
            if name and name != module and name != "lstmzip":  # its __init__ only names things lazily
                deps.add(name)
        graph[module] = deps
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(d):] + [d]))
            if d not in state:
                visit(d, trail + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
