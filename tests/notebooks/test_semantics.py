"""The DAG is enough: running the tasks in any order it allows gives the notebook's results.

Each task runs in a namespace of its own holding only the names its incoming edges carry
(as the ``tasks`` engine will pass them), in orders chosen to differ from the file's as
much as the edges permit. Every plain value the notebook computes must come out the same
as running the cells top to bottom in one namespace. A missing edge shows up as a
NameError or a different value; a missing ordering edge as a value changed too early.
"""

from __future__ import annotations

import contextlib
import io
import random
import types
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.notebooks import FlowSpec, inspect_path

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = [
    ROOT / "examples" / "sales-report.ipynb",
    ROOT / "examples" / "word_stats.py",
    ROOT / "tests" / "data" / "notebooks" / "defuse_rules.ipynb",
    ROOT / "tests" / "data" / "notebooks" / "parameters.ipynb",
]
PLAIN = (int, float, str, bool, list, dict, tuple, set, type(None))


def run_in_file_order(spec: FlowSpec) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for task in spec.tasks:
            exec(compile(task.source, task.key, "exec"), namespace)
    return namespace


def orders(spec: FlowSpec) -> list[list[str]]:
    """Topological orders: latest-ready-first (the most reordering) and a few random ones."""
    made = []
    for seed in (None, 1, 2, 3):
        pending = {t.key: {e.source for e in spec.edges if e.target == t.key} for t in spec.tasks}
        rng = random.Random(seed)
        order: list[str] = []
        while pending:
            ready = [k for k, needs in pending.items() if not needs]
            chosen = ready[-1] if seed is None else rng.choice(ready)
            order.append(chosen)
            del pending[chosen]
            for needs in pending.values():
                needs.discard(chosen)
        made.append(order)
    return made


def run_as_tasks(spec: FlowSpec, order: list[str]) -> dict[str, dict[str, Any]]:
    outputs: dict[str, dict[str, Any]] = {}
    for key in order:
        namespace: dict[str, Any] = {}
        for edge in spec.edges:
            if edge.target == key:
                for name in edge.names:
                    namespace[name] = outputs[edge.source][name]
        for name, value in list(namespace.items()):
            if isinstance(value, types.FunctionType):  # a function sees its caller's globals
                namespace[name] = types.FunctionType(
                    value.__code__, namespace, value.__name__, value.__defaults__, value.__closure__
                )
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(spec.task(key).source, key, "exec"), namespace)
        outputs[key] = namespace
    return outputs


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.name)
def test_any_order_the_dag_allows_gives_the_same_values(path: Path) -> None:
    spec = inspect_path(path)
    expected = run_in_file_order(spec)
    last_version = {}
    for task in spec.tasks:
        for name in [*task.defines, *task.mutates]:
            last_version[name] = task.key
    checked = {n: v for n, v in expected.items() if isinstance(v, PLAIN) and n in last_version}
    assert checked, "nothing to compare"
    for order in orders(spec):
        outputs = run_as_tasks(spec, order)
        got = {name: outputs[last_version[name]][name] for name in checked}
        assert got == checked, f"order {order}"


def test_the_latest_ready_first_order_really_reorders() -> None:
    spec = inspect_path(ROOT / "examples" / "sales-report.ipynb")
    assert orders(spec)[0] != [t.key for t in spec.tasks]
