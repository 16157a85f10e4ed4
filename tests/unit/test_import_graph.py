"""The package's shape: an import graph without circles, modules a newcomer can read, audiences in their own folders.

Every ``import``/``from … import`` of a ``dockerlab`` module (also inside functions) is an edge; ``from dockerlab
import X`` is an edge to the module ``dockerlab.X`` when X is one, else to the package's ``__init__``. The old names
kept working by ``dockerlab._moved`` are no edges (nothing in the package uses them).
"""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "dockerlab"
MAX_LINES = 350


def modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                while t and t not in mods:  # import dockerlab.grading.lessons.l05_uv.check -> the module
                    t = t.rpartition(".")[0]
                if t and t != name and t != "dockerlab._moved":
                    edges[name].add(t)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)
    return found


def test_the_import_graph_has_no_circle():
    edges = graph()
    assert cycles(edges) == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles(edges))


def test_the_graph_sees_imports_inside_functions_and_relative_ones():
    """The walker itself: a circle made through a function-level import is found."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert cycles(edges) == [["a", "b", "c", "a"]]
    real = graph()
    assert "dockerlab.ops.standins" in real["dockerlab.dind"]  # dind imports it inside engine_image()


def test_no_module_over_350_lines():
    long = {name: n for name, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_each_audience_has_its_folder():
    mods = modules()
    for package in ("dockerlab.grading", "dockerlab.grading.lessons", "dockerlab.supply", "dockerlab.ops"):
        assert package in mods, package
    assert all(f"dockerlab.grading.lessons.l{n:02d}_" in " ".join(mods) for n in range(1, 15))
