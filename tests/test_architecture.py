"""The package's layers point one way: no import cycle (at module level or inside functions),
and the bottom modules import nothing above them."""

from __future__ import annotations

import ast
from pathlib import Path

import georaster_dl

PACKAGE = Path(georaster_dl.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Every module of the package and the package modules it imports anywhere in its code."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets.add(base)
                targets.update(f"{base}.{a.name}" for a in node.names)
        graph[name] = set()
        for target in targets:
            while target and target not in files:  # a name imported from a module, not a module
                target = target.rpartition(".")[0]
            if target and target not in (name, "georaster_dl"):
                graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (depth-first search), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_graph_sees_imports_inside_functions():
    graph = _import_graph()
    assert "georaster_dl.stack" in graph["georaster_dl.training"]  # module level
    assert "georaster_dl.models.describe" in graph["georaster_dl.cli.info"]  # inside a function


def test_no_import_cycle_in_the_package():
    cycle = _cycle(_import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_a_planted_cycle_is_found():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_spec_and_grid_import_nothing_above_them():
    graph = _import_graph()
    below = {"georaster_dl.errors", "georaster_dl.transforms", "georaster_dl.io.documents", "georaster_dl.io.files"}
    assert graph["georaster_dl.grid"] <= {"georaster_dl.errors"}
    assert graph["georaster_dl.spec"] <= below
