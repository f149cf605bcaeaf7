"""The package's layout: stages in subpackages, no import cycles (lazy imports included),
modules one can read in a sitting."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symderive"
#: Modules directly in symderive/ at most, and lines per module at most.
MAX_TOP_MODULES, MAX_LINES = 8, 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import node, at any depth (functions too), except under ``if TYPE_CHECKING``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(name: str, node) -> set[str]:
    """The symderive modules an import node loads (a package's __init__ included)."""
    is_package = MODULES[name].name == "__init__.py"
    if isinstance(node, ast.Import):
        wanted = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = name.split(".") if is_package else name.split(".")[:-1]
            parts = parts[:len(parts) - node.level + 1]
            base = ".".join(parts + ([base] if base else []))
        wanted = [base] + [f"{base}.{a.name}" for a in node.names]
    out = set()
    ancestors = {".".join(name.split(".")[:k]) for k in range(1, name.count(".") + 1)}
    for w in wanted:
        parts = w.split(".")
        for k in range(1, len(parts) + 1):        # importing a.b.c runs a and a.b first
            prefix = ".".join(parts[:k])
            if prefix in MODULES and prefix != name and prefix not in ancestors:
                out.add(prefix)   # (an ancestor package is always imported before ``name``)
    return out


def import_graph() -> dict[str, set[str]]:
    return {name: set().union(*[_targets(name, n) for n in _imports(ast.parse(p.read_text()))])
            for name, p in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_lazy_imports_included():
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_a_lazy_import_counts():
    tree = ast.parse("def f():\n    from .spec import load\n")
    (node,) = list(_imports(tree))
    assert _targets("symderive.api", node) >= {"symderive.spec", "symderive.spec.load"}


@pytest.mark.parametrize("stage,forbidden", [
    ("symderive.spec", ("symderive.engine", "symderive.numeric", "symderive.facts",
                        "symderive.report", "symderive.render", "symderive.cli")),
    ("symderive.engine", ("symderive.numeric", "symderive.facts", "symderive.report",
                          "symderive.render", "symderive.cli", "symderive.api")),
    ("symderive.numeric", ("symderive.facts", "symderive.report", "symderive.render",
                           "symderive.cli")),
    ("symderive.report", ("symderive.render", "symderive.cli")),
    ("symderive.render", ("symderive.cli",)),
])
def test_stages_import_only_earlier_stages(stage, forbidden):
    graph = import_graph()
    bad = sorted((m, t) for m, ts in graph.items() if m == stage or m.startswith(stage + ".")
                 for t in ts if any(t == f or t.startswith(f + ".") for f in forbidden))
    assert bad == []


def test_few_modules_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top


def test_modules_are_short():
    long = {name: n for name, p in MODULES.items()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
