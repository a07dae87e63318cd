"""One contract suite, run on every task runner: the same flows give the same results."""

from __future__ import annotations

import threading

import pytest

from jupyter_flows import flow, get_run_logger, task, unmapped
from jupyter_flows.engine.reporter import MemoryReporter
from jupyter_flows.engine.task_run import new_task_run
from jupyter_flows.task_runners import (
    DaskTaskRunner,
    SequentialTaskRunner,
    ThreadPoolTaskRunner,
    task_runner_from_name,
)


@task
def square(x: int) -> int:
    return x * x


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def fail_on(x: int, bad: int) -> int:
    if x == bad:
        raise ValueError(f"bad value {x}")
    return x


@task
def chatty(x: int) -> int:
    get_run_logger().info("working on %d", x)
    return x


def test_results_are_identical(make_runner, reporter: MemoryReporter) -> None:
    @flow(task_runner=make_runner())
    def pipeline(n: int) -> dict:
        squares = square.map(range(n))
        total = add.submit(squares[0], squares[-1])
        pairs = add.map(squares, unmapped(1))
        direct = square(3)
        return {
            "squares": squares.result(),
            "total": total.result(),
            "pairs": [f.result() for f in pairs],
            "direct": direct,
        }

    assert pipeline(5) == {
        "squares": [0, 1, 4, 9, 16],
        "total": 16,
        "pairs": [1, 2, 5, 10, 17],
        "direct": 9,
    }
    assert len(reporter.task_runs) == 5 + 1 + 5 + 1
    for run in reporter.task_runs:
        assert reporter.states_of(run.id) == ["Pending", "Running", "Completed"], run.name
    total = reporter.task_run_named("add-0")
    assert total.task_inputs == {
        "x": [reporter.task_run_named("square-0").id],
        "y": [reporter.task_run_named("square-4").id],
    }


def test_failures_are_identical(make_runner, reporter: MemoryReporter) -> None:
    @flow(task_runner=make_runner())
    def pipeline():
        values = fail_on.map([1, 2, 3], unmapped(2))
        after = add.submit(values[1], 1)
        return [f.state.name for f in (*values, after) if f.wait() is None]

    assert pipeline() == ["Completed", "Failed", "Completed", "NotReady"]
    failed = reporter.task_run_named("fail_on-1")
    assert (
        "ValueError: bad value 2"
        in reporter.states[
            [i for i, r in enumerate(reporter.states) if r.run_id == failed.id][-1]
        ].state.message
    )


def test_logs_reach_the_flow_reporter(make_runner, reporter: MemoryReporter) -> None:
    @flow(task_runner=make_runner())
    def pipeline():
        return chatty.map([1, 2]).result()

    assert pipeline() == [1, 2]
    lines = {r.message: r for r in reporter.logs if r.message.startswith("working on")}
    assert set(lines) == {"working on 1", "working on 2"}
    assert lines["working on 1"].task_run_id == reporter.task_run_named("chatty-0").id
    assert lines["working on 1"].flow_run_id == reporter.flow_runs[0].id


def test_threads_run_concurrently() -> None:
    barrier = threading.Barrier(3, timeout=10)

    @task
    def meet(i: int) -> int:
        barrier.wait()  # only passes if three tasks run at the same time
        return i

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
    def pipeline():
        return meet.map(range(3)).result()

    assert pipeline() == [0, 1, 2]


def test_dask_runner_starts_and_closes_its_own_cluster(reporter: MemoryReporter) -> None:
    seen: dict[str, object] = {}

    @flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 1, "processes": False}))
    def pipeline() -> int:
        ctx_runner = __import__("jupyter_flows").get_run_context().task_runner
        result = add.submit(1, 2).result()
        seen["client"] = ctx_runner.client
        return result

    assert pipeline() == 3
    assert seen["client"].status == "closed"


def test_dask_on_worker_processes(reporter: MemoryReporter) -> None:
    """A real multi-process cluster: tasks are pickled to other processes and back."""
    import cloudpickle

    import tests.engine.test_runners as this_module

    cloudpickle.register_pickle_by_value(this_module)
    try:

        @flow(
            task_runner=DaskTaskRunner(
                cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "processes": True}
            )
        )
        def pipeline() -> list[int]:
            return chatty.map(square.map([2, 3])).result()

        assert pipeline() == [4, 9]
    finally:
        cloudpickle.unregister_pickle_by_value(this_module)
    assert "working on 9" in reporter.messages()


def test_runner_by_name() -> None:
    assert isinstance(task_runner_from_name("threads", max_workers=2), ThreadPoolTaskRunner)
    with pytest.raises(ValueError, match="unknown task runner 'spark'; known: dask"):
        task_runner_from_name("spark")
    with pytest.raises(ValueError, match="max_workers"):
        ThreadPoolTaskRunner(max_workers=0)


def test_a_flow_run_gets_its_own_runner() -> None:
    template = ThreadPoolTaskRunner(max_workers=2)
    runners = []

    @flow(task_runner=template)
    def pipeline() -> None:
        runners.append(__import__("jupyter_flows").get_run_context().task_runner)

    pipeline()
    pipeline()
    assert runners[0] is not runners[1] and template not in runners


def test_a_task_shipped_to_dask_carries_no_reporter(reporter: MemoryReporter) -> None:
    """Shipping the flow's reporter would copy every record made so far with each task."""
    import cloudpickle

    from jupyter_flows.engine.reporter import NullReporter

    shipped = []

    @flow(task_runner=SequentialTaskRunner())
    def pipeline() -> None:
        for i in range(50):
            call = new_task_run(square, (i,), {}, None)
            shipped.append(call.without_arguments())

    pipeline()
    assert all(isinstance(call.reporter, NullReporter) for call in shipped)
    sizes = {len(cloudpickle.dumps(call)) for call in (shipped[0], shipped[-1])}
    assert max(sizes) - min(sizes) < 64, "the payload must not grow as the run goes on"
