"""What a run ends in, from what its function returns: states, collections of states,
generators; and generator flows, which stream what they yield (Prefect's rules)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from jupyter_flows import flow, task
from jupyter_flows.engine.reporter import MemoryReporter
from jupyter_flows.exceptions import FailedRun
from jupyter_flows.states import Cancelled, Completed, Failed, Running


def test_a_task_returning_a_state_ends_in_it_with_its_name(reporter: MemoryReporter) -> None:
    @task
    def check(row: int):
        if row < 0:
            return Failed(message=f"row {row} is negative")
        if row == 0:
            return Completed(name="Skipped", message="nothing to do")
        return row * 2

    @flow
    def pipeline() -> list:
        return [
            check(3),
            check(0),  # a direct call hands the returned state back, as Prefect does
            check.submit(-1, return_state=True),
            check.submit(0).result(),
        ]

    doubled, skipped, failed, submitted = pipeline()
    assert doubled == 6
    assert skipped.name == "Skipped" and skipped.is_completed()
    assert failed.is_failed() and failed.message == "row -1 is negative"
    assert submitted is None, "a returned Completed carries no data"
    states = {run.name: reporter.states_of(run.id) for run in reporter.task_runs}
    assert states == {
        "check-0": ["Pending", "Running", "Completed"],
        "check-1": ["Pending", "Running", "Skipped"],
        "check-2": ["Pending", "Running", "Failed"],
        "check-3": ["Pending", "Running", "Skipped"],
    }
    with pytest.raises(FailedRun, match="row -1 is negative"):
        failed.result()


def test_a_flow_returning_a_state_ends_in_it(reporter: MemoryReporter) -> None:
    @flow
    def skipped():
        return Completed(name="Skipped", message="no new data", data=0)

    @flow
    def refused():
        return Failed("the input was empty")

    @flow
    def stopped():
        return Cancelled("a person stopped it")

    assert skipped() == 0
    assert skipped(return_state=True).name == "Skipped"
    with pytest.raises(FailedRun, match="the input was empty"):
        refused()
    state = stopped(return_state=True)
    assert state.is_cancelled() and state.message == "a person stopped it"
    finals = [reporter.states_of(run.id)[-1] for run in reporter.flow_runs]
    assert finals == ["Skipped", "Skipped", "Failed", "Cancelled"]


def test_a_flow_returning_run_states_ends_by_the_aggregate_rule() -> None:
    @task
    def toggle(fail: bool):
        if fail:
            raise ValueError("instructed to fail")
        return "fine"

    @flow
    def one_failed():
        return toggle(True, return_state=True), toggle(False, return_state=True)

    @flow
    def all_fine():
        return [toggle(False, return_state=True), toggle(False, return_state=True)]

    state = one_failed(return_state=True)
    assert state.is_failed() and state.message == "1/2 states failed."
    with pytest.raises(ValueError, match="instructed to fail"):
        state.result()
    fine = all_fine(return_state=True)
    assert fine.is_completed() and fine.message == "All states completed."
    assert [s.result() for s in fine.result()] == ["fine", "fine"]


def test_a_state_that_is_not_final_cannot_end_a_run() -> None:
    @flow
    def confused():
        return Running()

    state = confused(return_state=True)
    assert state.is_failed() and "returned a Running state" in state.message


def test_a_returned_generator_is_consumed_inside_the_run(reporter: MemoryReporter) -> None:
    seen: list[str] = []

    @task
    def rows() -> Iterator[int]:
        return (seen.append("row") or i for i in range(3))  # type: ignore[func-returns-value]

    @task
    def yielding():
        yield from range(2)

    @flow
    def pipeline():
        values = rows()
        seen.append("after the task")
        return values, yielding()

    @flow
    def lazy():
        return (x * 10 for x in range(2))

    assert pipeline() == ([0, 1, 2], [0, 1])
    assert seen == ["row", "row", "row", "after the task"]
    assert lazy() == [0, 10]


def test_a_generator_flow_streams_what_it_yields(reporter: MemoryReporter) -> None:
    events: list[str] = []

    @task
    def square(x: int) -> int:
        return x * x

    @flow
    def numbers(n: int):
        for i in range(n):
            events.append(f"yield {i}")
            yield square(i)
        return "all done"

    stream = numbers(3)
    assert reporter.flow_runs == [], "the run starts with the first value asked for"
    for value in stream:
        events.append(f"got {value}")
    assert events == ["yield 0", "got 0", "yield 1", "got 1", "yield 2", "got 4"]
    run = reporter.flow_runs[0]
    assert reporter.states_of(run.id) == ["Pending", "Running", "Completed"]
    assert [r.name for r in reporter.task_runs] == ["square-0", "square-1", "square-2"]
    assert all(r.flow_run_id == run.id for r in reporter.task_runs)


def test_a_generator_flow_stopped_early_completes(reporter: MemoryReporter) -> None:
    closed: list[bool] = []

    @flow
    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    stream = endless()
    assert [next(stream), next(stream)] == [0, 1]
    stream.close()
    assert closed == [True]
    assert reporter.states_of(reporter.flow_runs[0].id)[-1] == "Completed"


def test_a_failing_generator_flow_raises_and_retries_from_the_start(
    reporter: MemoryReporter,
) -> None:
    attempts: list[int] = []

    @flow(retries=1)
    def flaky():
        attempts.append(1)
        yield "first"
        if len(attempts) == 1:
            raise ConnectionError("dropped")
        yield "second"

    assert list(flaky()) == ["first", "first", "second"]

    @flow
    def broken():
        yield 1
        raise ValueError("bad row")

    got: list[int] = []
    with pytest.raises(ValueError, match="bad row"):
        for value in broken():
            got.append(value)
    assert got == [1]
    assert [reporter.states_of(run.id)[-1] for run in reporter.flow_runs] == [
        "Completed",
        "Failed",
    ]
    with pytest.raises(ValueError, match="generator"):
        broken(return_state=True)


def test_a_generator_flow_timeout_covers_the_whole_run(reporter: MemoryReporter) -> None:
    import time

    @flow(timeout_seconds=0.2)
    def slow():
        while True:
            time.sleep(0.05)
            yield 1

    with pytest.raises(TimeoutError, match="exceeded its timeout of 0.2 seconds"):
        for _ in slow():
            pass
    assert reporter.states_of(reporter.flow_runs[0].id)[-1] == "TimedOut"


def test_an_async_generator_flow_streams(reporter: MemoryReporter) -> None:
    @task
    async def double(x: int) -> int:
        return 2 * x

    @flow
    async def numbers(n: int):
        for i in range(n):
            yield await double(i)

    async def consume() -> list[int]:
        return [value async for value in numbers(3)]

    assert asyncio.run(consume()) == [0, 2, 4]
    assert reporter.states_of(reporter.flow_runs[0].id) == ["Pending", "Running", "Completed"]
