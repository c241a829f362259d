"""The package's import graph has no circle: every module, with the imports it makes at run time (at the top
and inside functions; those for type hints alone, under ``if TYPE_CHECKING:``, do not run)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lhcgan"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _runtime_nodes(tree: ast.AST):
    """Every import node, skipping the bodies of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_nodes_of(child))
            continue
        yield from _runtime_nodes_of(node)


def _runtime_nodes_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    yield from _runtime_nodes(node)


def graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (a name imported from a package that is a module counts as it)."""
    mods = modules()
    out = {}
    for name, path in mods.items():
        deps = set()
        for node in _runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in mods}
            elif node.module and node.module.split(".")[0] == "lhcgan" and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names} & set(mods)
                deps |= subs or {node.module}
        out[name] = deps - {name}
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    colour: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(u: str) -> None:
        colour[u] = 1
        stack.append(u)
        for v in sorted(g[u]):
            if colour.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif v in g and not colour.get(v):
                visit(v)
        stack.pop()
        colour[u] = 2

    for u in sorted(g):
        if not colour.get(u):
            visit(u)
    return found


def test_the_import_graph_has_no_circle():
    g = graph()
    assert {"lhcgan.system", "lhcgan.refine", "lhcgan.sample", "lhcgan.modelfile"} <= set(g)
    assert cycles(g) == []
    # the tt̄-system features are a leaf the refiner, the sample checks and the variations share
    assert g["lhcgan.system"] <= {"lhcgan.physics", "lhcgan.process"}
    assert "lhcgan.system" in g["lhcgan.refine"] and "lhcgan.system" in g["lhcgan.sample"]


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.slow
def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    names = sorted(n for n in modules() if not n.endswith("__main__"))  # __main__ runs the command line
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    # one interpreter, in the order that puts each module first before its package has loaded the rest
    for first in ("lhcgan.system", "lhcgan.variations", "lhcgan.refine", "lhcgan.sample"):
        proc = subprocess.run([sys.executable, "-c", code, first, *names], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
