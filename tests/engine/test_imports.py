"""What ``import jupyter_flows`` costs every run's process, and the engine's boundaries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import jupyter_flows

ENGINE = Path(jupyter_flows.__file__).parent / "engine"


def test_import_loads_the_engine_alone() -> None:
    code = "import sys, json, jupyter_flows; print(json.dumps(sorted(m for m in sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(json.loads(out))
    heavy = {
        "pydantic",
        "cloudpickle",
        "fsspec",
        "distributed",
        "dask",
        "tornado",
        "jupyter_server",
        "sqlalchemy",
        "httpx",
    }
    assert not heavy & loaded, f"imported on start-up: {sorted(heavy & loaded)}"
    ours = {m for m in loaded if m.startswith("jupyter_flows.")}
    assert all(
        m.startswith("jupyter_flows.engine") or m == "jupyter_flows._version" for m in ours
    ), sorted(ours)


def test_the_engine_imports_nothing_else_of_the_package() -> None:
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("jupyter_flows"):
                    assert name.startswith("jupyter_flows.engine"), f"{path.name}: {name}"


def test_prefect_style_import_paths() -> None:
    from jupyter_flows import flow, get_run_logger, tags, task, unmapped  # noqa: F401
    from jupyter_flows.futures import as_completed, wait  # noqa: F401
    from jupyter_flows.logging import get_run_logger as logger_fn
    from jupyter_flows.states import Completed, Failed  # noqa: F401
    from jupyter_flows.task_runners import ThreadPoolTaskRunner  # noqa: F401
    from jupyter_flows.tasks import exponential_backoff, task_input_hash  # noqa: F401

    assert logger_fn is get_run_logger


def _runtime_imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that ``path`` imports when it runs: at its top or inside a
    function, but not in an ``if TYPE_CHECKING:`` block."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == package:
                found.update(f"{package}.{alias.name}" for alias in node.names)
            elif node.module.startswith(package + "."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(package + "."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def _a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module → modules it imports), or None."""
    done: set[str] = set()
    path: list[str] = []

    def walk(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph.get(module, ())):
            cycle = walk(target)
            if cycle is not None:
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = walk(module)
        if cycle is not None:
            return cycle
    return None


def test_the_engine_has_no_import_cycle() -> None:
    """Deferred imports count too: a cycle hidden in a function is still a knot."""
    package = "jupyter_flows.engine"
    graph = {
        f"{package}.{path.stem}": _runtime_imports(path, package)
        for path in ENGINE.glob("*.py")
        if path.stem != "__init__"
    }
    assert _a_cycle(graph) is None, " → ".join(_a_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert _a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _a_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
