"""Futures nested at any depth in a task's arguments: resolved before it runs, and edges.

Standard containers and their subclasses, dataclasses and pydantic models; on every task
runner (Dask only looks inside plain containers itself, the engine does the rest).
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict, namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic

from jupyter_flows import allow_failure, flow, task
from jupyter_flows.engine.nested import pending_futures, producers, resolve
from jupyter_flows.engine.reporter import MemoryReporter
from jupyter_flows.futures import TaskFuture
from jupyter_flows.task_runners import TaskRunner


@dataclass
class Batch:
    rows: list[Any]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Frozen:
    value: Any


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)

    threshold: Any
    names: list[Any] = []


Pair = namedtuple("Pair", "left right")


@task
def make(x: int) -> int:
    return x


@task
def show(value: Any) -> str:
    """What the task received, with any future left in it spelled out."""
    text = repr(value)
    assert "TaskFuture" not in text, f"an unresolved future reached the task: {text}"
    return text


def test_futures_at_any_depth_are_resolved_on_every_runner(
    make_runner: Callable[[], TaskRunner], reporter: MemoryReporter
) -> None:
    @flow(task_runner=make_runner())
    def pipeline() -> dict[str, str]:
        a, b, c = make.submit(1), make.submit(2), make.submit(3)
        return {
            "list": show.submit([a, [b, (c,)]]).result(),
            "dict": show.submit({"a": {"deep": [a]}, "s": {b}}).result(),
            "dataclass": show.submit(Batch([a, b], {"c": c})).result(),
            "frozen": show.submit(Frozen(Pair(a, c))).result(),
            "pydantic": show.submit(Settings(threshold=a, names=[b, c])).result(),
            "ordered": show.submit(OrderedDict(x=a)).result(),
            "direct": show([Batch([c])]),
        }

    assert pipeline() == {
        "list": "[1, [2, (3,)]]",
        "dict": "{'a': {'deep': [1]}, 's': {2}}",
        "dataclass": "Batch(rows=[1, 2], meta={'c': 3})",
        "frozen": "Frozen(value=Pair(left=1, right=3))",
        "pydantic": "Settings(threshold=1, names=[2, 3])",
        "ordered": "OrderedDict([('x', 1)])",
        "direct": "[Batch(rows=[3], meta={})]",
    }
    ids = {name: reporter.task_run_named(name).id for name in ("make-0", "make-1", "make-2")}
    edges = {run.name: run.task_inputs for run in reporter.task_runs if run.name != "make"}
    assert edges["show-0"] == {"value": [ids["make-0"], ids["make-1"], ids["make-2"]]}
    assert edges["show-2"] == {"value": [ids["make-0"], ids["make-1"], ids["make-2"]]}
    assert edges["show-3"] == {"value": [ids["make-0"], ids["make-2"]]}
    assert edges["show-4"] == {"value": [ids["make-0"], ids["make-1"], ids["make-2"]]}
    assert edges["show-6"] == {"value": [ids["make-2"]]}


def test_a_failed_future_deep_inside_stops_the_task(reporter: MemoryReporter) -> None:
    @task
    def boom() -> int:
        raise ValueError("no")

    @flow
    def pipeline():
        failed = boom.submit()
        nested = show.submit(Batch([failed]), return_state=True)
        allowed = show.submit({"error": allow_failure(failed)}).result()
        return {"nested": nested}, allowed

    (states, allowed) = pipeline()
    assert states["nested"].name == "NotReady"
    assert allowed == "{'error': ValueError('no')}"


def test_values_without_futures_reach_the_task_as_the_same_object() -> None:
    batch = Batch([1, 2], {"k": [3]})
    settings = Settings(threshold=1)
    counts: defaultdict[str, int] = defaultdict(int, a=1)
    for value in (batch, settings, counts, [batch], {"s": settings}):
        assert resolve(value) is value


def test_containers_keep_their_type_and_extras() -> None:
    def done(value: int) -> TaskFuture[int]:
        from jupyter_flows.engine.states import Completed

        state = Completed(data=value)
        return TaskFuture("id", "name", lambda _t: state, lambda: True, lambda: state)

    counts: defaultdict[str, list[int]] = defaultdict(list, a=done(1))
    resolved = resolve(counts)
    assert type(resolved) is defaultdict and resolved["a"] == 1 and resolved["new"] == []
    assert resolve(Pair(done(1), 2)) == Pair(1, 2)
    assert resolve(Frozen(done(5))) == Frozen(5)


def test_self_referencing_values_do_not_loop() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert resolve(loop) is loop
    assert producers(loop, None) == []
    assert pending_futures(loop) == []


def test_a_subflow_gets_the_futures_it_is_passed_as_data(reporter: MemoryReporter) -> None:
    @task
    def boom() -> int:
        raise ValueError("no")

    @flow
    def child(value: int, rows: list[int]) -> str:
        return f"{value} {rows}"

    @flow
    def parent():
        good = make.submit(2)
        return child(good, [make.submit(3)]), child(boom.submit(), [], return_state=True)

    text, refused = parent()
    assert text == "2 [3]"
    assert refused.name == "NotReady" and "upstream task run 'boom-0' ended Failed" in (
        refused.message
    )
    first_child = next(run for run in reporter.flow_runs if run.flow_name == "child")
    assert first_child.parameters == {"value": 2, "rows": [3]}
