"""The package's floors, pinned: who may import whom, and no import cycle at run time.

The rules come from docs/architecture.md. The engine is the ground floor (every run's
process imports it, so it imports nothing else of the package); the front ends (`cli/`:
the terminal and the %flow magic) are the top floor, which nothing below imports; the agent
reaches the server only over HTTP, through `client`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_flows

PACKAGE = Path(jupyter_flows.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in PACKAGE.rglob("*.py")
        if "labextension" not in p.parts and "migrations" not in p.parts
    }


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(module: str, path: Path) -> Iterator[str]:
    """Names of the package's modules that ``module`` imports, at its top or inside its
    functions (a deferred import hides a cycle, it does not end it); imports made only for
    type checking aside."""

    def visit(nodes: list[ast.stmt]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, path, node)
                for alias in node.names:
                    yield f"{base}.{alias.name}"
                yield base
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    yield from visit([c for c in children if isinstance(c, ast.stmt)])
                    for handler in children:
                        if isinstance(handler, ast.ExceptHandler):
                            yield from visit(handler.body)

    known = modules()
    for name in visit(ast.parse(path.read_text()).body):
        if name in known and name != module:
            yield name


def imported_by(floor: str) -> dict[str, set[str]]:
    return {
        m: set(imports(m, p))
        for m, p in modules().items()
        if m == floor or m.startswith(floor + ".")
    }


def in_floor(target: str, floor: str) -> bool:
    name = f"jupyter_flows.{floor}"
    return target == name or target.startswith(name + ".")


@pytest.mark.parametrize("floor", ["engine", "notebooks", "spec", "agent", "server", "store"])
def test_nothing_below_the_front_ends_imports_them(floor: str) -> None:
    bad = [
        f"{m} imports {t}"
        for m, targets in imported_by(f"jupyter_flows.{floor}").items()
        for t in targets
        if in_floor(t, "cli")
    ]
    assert bad == []


def test_the_agent_reaches_the_server_only_through_the_client() -> None:
    bad = [
        f"{m} imports {t}"
        for m, targets in imported_by("jupyter_flows.agent").items()
        for t in targets
        if in_floor(t, "server") or in_floor(t, "store")
    ]
    assert bad == []


def test_the_store_knows_only_the_engine_states() -> None:
    bad = [
        f"{m} imports {t}"
        for m, targets in imported_by("jupyter_flows.store").items()
        for t in targets
        if not in_floor(t, "store") and not in_floor(t, "engine")
    ]
    assert bad == []


def test_no_import_cycle_at_run_time() -> None:
    # A module's own parent packages are already being imported when it runs (Python
    # imports them first), so an import of one of them is no cycle.
    graph = {
        m: {t for t in imports(m, p) if not m.startswith(t + ".")} for m, p in modules().items()
    }
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert cycles == [], "import cycles:\n" + "\n".join(" ↔ ".join(sorted(c)) for c in cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert [c for c in strongly_connected(graph) if len(c) > 1] == [{"a", "b", "c"}]
