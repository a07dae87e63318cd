"""``async def`` flows and tasks: one engine with sync ones, on every task runner.

Awaited directly, gathered, submitted, as subflows, mixed with sync tasks, and called from
sync code; with the same states, retries, timeouts and logs as the same flow written sync.
No test measures speed: concurrency is shown by tasks that can only finish together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import anyio
import pytest

from jupyter_flows import flow, get_run_logger, task
from jupyter_flows.engine.reporter import MemoryReporter, use_reporter
from jupyter_flows.exceptions import FlowRunTimeoutError, TaskRunTimeoutError
from jupyter_flows.task_runners import TaskRunner, ThreadPoolTaskRunner


@task
async def double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


@task
def increment(x: int) -> int:
    return x + 1


@flow
async def async_child(x: int) -> int:
    return await double(x) + 1


def test_an_async_flow_runs_its_tasks_every_way_on_every_runner(
    make_runner: Callable[[], TaskRunner], reporter: MemoryReporter
) -> None:
    @flow(task_runner=make_runner())
    async def pipeline(n: int) -> dict:
        awaited = await double(1)
        gathered = await asyncio.gather(*(double(i) for i in range(n)))
        submitted = double.submit(10)
        mapped = double.map(range(3))
        in_place = increment(awaited)  # a sync task called from an async flow
        child = await async_child(5)
        follow = increment.submit(submitted)
        return {
            "awaited": awaited,
            "gathered": gathered,
            "submitted": follow.result(),
            "mapped": mapped.result(),
            "in_place": in_place,
            "child": child,
        }

    assert asyncio.run(pipeline(3)) == {
        "awaited": 2,
        "gathered": [0, 2, 4],
        "submitted": 21,
        "mapped": [0, 2, 4],
        "in_place": 3,
        "child": 11,
    }
    assert len(reporter.flow_runs) == 2
    assert len(reporter.task_runs) == 1 + 3 + 1 + 3 + 1 + 1 + 1
    for run in reporter.task_runs:
        assert reporter.states_of(run.id) == ["Pending", "Running", "Completed"], run.name
    parent, child = reporter.flow_runs
    assert child.parent_flow_run_id == parent.id
    for run in (parent, child):
        assert reporter.states_of(run.id) == ["Pending", "Running", "Completed"]
    edge = reporter.task_run_named("increment-1").task_inputs
    assert edge == {"x": [reporter.task_run_named("double-4").id]}


def test_gathered_tasks_run_concurrently_on_the_flow_loop() -> None:
    arrived = {"n": 0}

    @task
    async def meet(i: int) -> int:
        arrived["n"] += 1
        while arrived["n"] < 3:  # only three tasks running at once get past this
            await asyncio.sleep(0.001)
        return i

    @flow
    async def pipeline() -> list[int]:
        return await asyncio.wait_for(asyncio.gather(meet(0), meet(1), meet(2)), 10)

    assert asyncio.run(pipeline()) == [0, 1, 2]


def test_submitted_async_tasks_run_on_the_runner(
    make_runner: Callable[[], TaskRunner], reporter: MemoryReporter
) -> None:
    @flow(task_runner=make_runner())
    def pipeline() -> list[int]:  # a sync flow: the tasks run on loops of their own
        futures = double.map(range(4))
        return [f.result() for f in futures] + [double.submit(futures[3]).result()]

    assert pipeline() == [0, 2, 4, 6, 12]
    assert reporter.task_run_named("double-4").task_inputs == {
        "x": [reporter.task_run_named("double-3").id]
    }


def test_an_async_flow_called_from_sync_code_runs_on_its_own_loop(
    reporter: MemoryReporter,
) -> None:
    @task
    def sync_task_calling_async() -> int:
        return double(21)  # a sync task cannot await: the async task runs to its end

    @flow
    def sync_parent() -> tuple[int, int, int]:
        return async_child(1), double(4), sync_task_calling_async()

    assert sync_parent() == (3, 8, 42)
    assert [run.flow_name for run in reporter.flow_runs] == ["sync-parent", "async-child"]
    assert reporter.flow_runs[1].parent_flow_run_id == reporter.flow_runs[0].id


def test_at_top_level_an_async_flow_is_a_coroutine_as_in_prefect() -> None:
    coroutine = async_child(2)
    assert asyncio.iscoroutine(coroutine)
    assert asyncio.run(coroutine) == 5
    assert anyio.run(async_child, 3) == 7

    async def inside_a_loop() -> tuple[int, int, int]:
        state = await async_child(4, return_state=True)
        # a sync flow called with a loop running runs in place, and its async tasks on
        # a loop of their own (this thread's loop is busy)
        return await async_child(4), state.result(), sync_wrapper(4)

    @flow
    def sync_wrapper(x: int) -> int:
        return double(x)

    assert asyncio.run(inside_a_loop()) == (9, 9, 8)


def test_a_coroutine_never_awaited_makes_no_run(reporter: MemoryReporter) -> None:
    @flow
    async def pipeline() -> None:
        forgotten = double(1)
        forgotten.close()

    asyncio.run(pipeline())
    assert reporter.task_runs == []


def test_async_retries_and_timeouts(reporter: MemoryReporter) -> None:
    attempts: list[int] = []

    @task(retries=2, retry_delay_seconds=0.01)
    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    stopped: list[str] = []

    @task(timeout_seconds=0.05)
    async def stuck() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.append("cancelled at its await")
            raise

    @flow
    async def pipeline() -> tuple:
        return await flaky(), await stuck(return_state=True)

    value, timed_out = asyncio.run(pipeline())
    assert value == "ok" and len(attempts) == 3
    assert timed_out.is_timed_out() and timed_out.is_failed()
    assert isinstance(timed_out.exception, TaskRunTimeoutError)
    assert stopped == ["cancelled at its await"], "an async task is cancelled, not abandoned"
    assert reporter.states_of(reporter.task_run_named("flaky-0").id) == [
        "Pending",
        "Running",
        "Retrying",
        "Running",
        "Retrying",
        "Running",
        "Completed",
    ]


def test_an_async_flow_timeout_raises_flow_run_timeout_error(reporter: MemoryReporter) -> None:
    @flow(timeout_seconds=0.05)
    async def slow() -> None:
        await asyncio.sleep(30)

    with pytest.raises(FlowRunTimeoutError, match="exceeded its timeout of 0.05 seconds") as info:
        asyncio.run(slow())
    assert isinstance(info.value, TimeoutError)
    assert reporter.states_of(reporter.flow_runs[0].id) == ["Pending", "Running", "TimedOut"]


def test_a_timeout_error_raised_by_the_work_is_not_the_run_timing_out() -> None:
    @task(timeout_seconds=5)
    async def calls_a_slow_service() -> None:
        raise TimeoutError("the service did not answer")

    @flow
    async def pipeline():
        return await calls_a_slow_service(return_state=True)

    state = asyncio.run(pipeline(return_state=True)).data
    assert state.type.value == "FAILED" and state.name == "Failed"
    assert "the service did not answer" in state.message


# -- the same flow, sync and async: the same records ---------------------------------------


def _normalised(reporter: MemoryReporter) -> tuple[list, list]:
    """States and log lines by run name, with run names and timings taken out."""
    names = {run.id: run.name for run in reporter.task_runs}
    names.update({run.id: "flow" for run in reporter.flow_runs})
    states = [(names[r.run_id], r.state.name, r.state.message) for r in reporter.states]
    logs = [
        (names.get(r.task_run_id or r.flow_run_id), r.level, r.message.split(" for flow ")[0])
        for r in reporter.logs
        if not r.message.startswith("Beginning flow run")
    ]
    return states, logs


def _make_pipeline(asynchronous: bool):
    attempts: list[int] = []

    def flaky_body(x: int) -> int:
        get_run_logger().info("attempt %d for %d", len(attempts) + 1, x)
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("reset")
        return x

    def failing_body() -> None:
        raise ValueError("bad row")

    if asynchronous:

        async def flaky(x: int) -> int:
            return flaky_body(x)

        async def fails() -> None:
            failing_body()

        async def slow() -> None:
            await asyncio.sleep(5)

        @flow(name="pipeline", retries=0)
        async def pipeline():
            value = await task(name="flaky", retries=1)(flaky)(3)
            failed = await task(name="fails")(fails)(return_state=True)
            stuck = await task(name="slow", timeout_seconds=0.05)(slow)(return_state=True)
            return {"value": value, "states": [failed.name, stuck.name]}

        return lambda: asyncio.run(pipeline())

    def flaky_sync(x: int) -> int:
        return flaky_body(x)

    def slow_sync() -> None:
        time.sleep(0.3)

    @flow(name="pipeline", retries=0)
    def pipeline():
        value = task(name="flaky", retries=1)(flaky_sync)(3)
        failed = task(name="fails")(failing_body)(return_state=True)
        stuck = task(name="slow", timeout_seconds=0.05)(slow_sync)(return_state=True)
        return {"value": value, "states": [failed.name, stuck.name]}

    return pipeline


def test_async_and_sync_flows_record_the_same_states_and_logs() -> None:
    records = []
    for asynchronous in (False, True):
        with use_reporter(MemoryReporter()) as reporter:
            assert _make_pipeline(asynchronous)() == {
                "value": 3,
                "states": ["Failed", "TimedOut"],
            }
        records.append(_normalised(reporter))
    (sync_states, sync_logs), (async_states, async_logs) = records
    assert async_states == sync_states
    assert async_logs == sync_logs
    retried = "attempt 1 of 2 failed (ConnectionError: reset); retrying in 0 s"
    assert ("flaky-0", "Retrying", retried) in sync_states


def test_async_tasks_on_a_thread_pool_each_get_a_loop() -> None:
    loops: set[int] = set()

    @task
    async def which_loop(i: int) -> int:
        loops.add(id(asyncio.get_running_loop()))
        await asyncio.sleep(0)
        return 1

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def pipeline() -> int:
        return sum(which_loop.map(range(4)).result())

    assert pipeline() == 4
    assert loops, "each async task ran on an event loop"
