"""Tasks: direct calls, failures and retries, submit, map, wait_for, upstream failures."""

from __future__ import annotations

import threading

import pytest

from jupyter_flows import allow_failure, flow, tags, task, unmapped
from jupyter_flows.engine.errors import MappingError, UpstreamTaskError
from jupyter_flows.engine.reporter import MemoryReporter
from jupyter_flows.engine.task import retry_delays
from jupyter_flows.task_runners import SequentialTaskRunner
from jupyter_flows.tasks import exponential_backoff


# -- failure paths first -------------------------------------------------------------------
def test_a_task_that_raises_fails_and_fails_its_flow(reporter: MemoryReporter) -> None:
    @task
    def explode() -> None:
        raise ZeroDivisionError("division by zero")

    @flow
    def pipeline() -> None:
        explode()

    state = pipeline(return_state=True)
    assert state.is_failed() and "ZeroDivisionError" in state.message
    run = reporter.task_run_named("explode-0")
    assert reporter.states_of(run.id) == ["Pending", "Running", "Failed"]
    failure_logs = [r for r in reporter.logs if r.task_run_id == run.id and r.level >= 40]
    assert failure_logs and "division by zero" in failure_logs[0].message


def test_retries_exhausted_end_failed_after_every_attempt(reporter: MemoryReporter) -> None:
    calls: list[int] = []

    @task(retries=2, retry_delay_seconds=0)
    def always_fails() -> None:
        calls.append(1)
        raise OSError("disk on fire")

    @flow
    def pipeline():
        return always_fails(return_state=True)

    state = pipeline(return_state=True).data
    assert state.is_failed() and "disk on fire" in state.message
    assert len(calls) == 3
    run = reporter.task_run_named("always_fails-0")
    assert reporter.states_of(run.id) == [
        "Pending",
        "Running",
        "Retrying",
        "Running",
        "Retrying",
        "Running",
        "Failed",
    ]
    retry_warnings = [r.message for r in reporter.logs if r.level == 30]
    assert retry_warnings[0].startswith("attempt 1 of 3 failed (OSError: disk on fire)")


def test_retry_condition_fn_can_refuse_a_retry(reporter: MemoryReporter) -> None:
    calls: list[str] = []
    seen: list[tuple[str, str]] = []

    def only_connection_errors(task_obj, task_run, state) -> bool:
        seen.append((task_obj.name, task_run.name))
        return isinstance(state.exception, ConnectionError)

    @task(retries=5, retry_condition_fn=only_connection_errors)
    def fetch(kind: str) -> str:
        calls.append(kind)
        if len(calls) == 1:
            raise ConnectionError("reset")
        raise ValueError("bad data")

    @flow
    def pipeline():
        return fetch("x", return_state=True)

    state = pipeline(return_state=True).data
    assert state.is_failed() and "bad data" in state.message
    assert calls == ["x", "x"], "retried once for the connection error, never for bad data"
    assert seen == [("fetch", "fetch-0"), ("fetch", "fetch-0")]


def test_a_failed_future_passed_downstream_stops_the_downstream_task(
    reporter: MemoryReporter,
) -> None:
    ran: list[int] = []

    @task
    def upstream() -> int:
        raise ValueError("bad input")

    @task
    def downstream(x: int) -> int:
        ran.append(x)
        return x

    @flow
    def pipeline():
        up = upstream.submit()
        down = downstream.submit(up)
        return down.state if down.wait() is None else None

    state = pipeline(return_state=True).data
    assert state.is_failed() and state.name == "NotReady"
    assert "upstream task run 'upstream-0' ended Failed" in state.message
    assert isinstance(state.exception, UpstreamTaskError)
    assert ran == [], "the downstream body must not run"
    down = reporter.task_run_named("downstream-0")
    assert down.task_inputs == {"x": [reporter.task_run_named("upstream-0").id]}
    assert reporter.states_of(down.id) == ["Pending", "NotReady"]


def test_allow_failure_passes_the_upstream_error_on() -> None:
    @task
    def upstream() -> int:
        raise ValueError("bad input")

    @task
    def handle(x) -> str:
        return f"handled {type(x).__name__}"

    @flow
    def pipeline() -> str:
        return handle.submit(allow_failure(upstream.submit())).result()

    assert pipeline() == "handled ValueError"


def test_wait_for_a_failed_task_stops_the_waiting_one() -> None:
    @task
    def setup() -> None:
        raise RuntimeError("setup failed")

    @task
    def work() -> str:
        return "done"

    @flow
    def pipeline():
        s = setup.submit()
        w = work.submit(wait_for=[s])
        w.wait()
        return w.state

    state = pipeline(return_state=True).data
    assert state.name == "NotReady" and "setup-0" in state.message


def test_map_refuses_mismatched_or_missing_iterables() -> None:
    @task
    def add(x: int, y: int) -> int:
        return x + y

    @flow
    def mismatched():
        return add.map([1, 2], [1, 2, 3])

    @flow
    def nothing_to_map():
        return add.map(1, 2)

    with pytest.raises(MappingError, match="different lengths"):
        mismatched()
    with pytest.raises(MappingError, match="at least one iterable"):
        nothing_to_map()


def test_task_options_are_validated() -> None:
    with pytest.raises(ValueError, match="retries"):
        task(retries=-2)(lambda: None)
    with pytest.raises(ValueError, match="retry_jitter_factor"):
        task(retry_jitter_factor=-1)(lambda: None)
    with pytest.raises(TypeError, match="unknown task options: colour"):
        task(lambda: None).with_options(colour="red")


# -- success paths ---------------------------------------------------------------------
def test_a_direct_call_returns_its_value_and_records_states(reporter: MemoryReporter) -> None:
    @task(name="adder", tags=["math"])
    def add(x: int, y: int = 1) -> int:
        return x + y

    @flow
    def pipeline() -> int:
        with tags("inner"):
            return add(add(1), y=5)

    assert pipeline() == 7
    first, second = reporter.task_runs
    assert (first.name, second.name) == ("adder-0", "adder-1")
    assert first.tags == ["inner", "math"]
    assert reporter.states_of(first.id) == ["Pending", "Running", "Completed"]
    assert all(r.flow_run_id == reporter.flow_runs[0].id for r in reporter.task_runs)


def test_direct_calls_record_edges_through_the_values_passed_on(
    reporter: MemoryReporter,
) -> None:
    @task
    def load() -> list[int]:
        return [1, 2, 3]

    @task
    def total(rows: list[int], scale: int) -> int:
        return sum(rows) * scale

    @flow
    def pipeline() -> int:
        return total(load(), 2)

    assert pipeline() == 12
    load_run = reporter.task_run_named("load-0")
    assert reporter.task_run_named("total-0").task_inputs == {"rows": [load_run.id]}


def test_a_task_called_outside_a_flow_still_runs(reporter: MemoryReporter) -> None:
    @task
    def shout(word: str) -> str:
        return word.upper()

    assert shout("hi") == "HI"
    assert reporter.task_runs[0].flow_run_id is None
    assert shout.submit("yo").result() == "YO"


def test_submit_returns_a_future_with_state_wait_and_result() -> None:
    release = threading.Event()

    @task
    def slow() -> str:
        release.wait(10)
        return "done"

    @flow
    def pipeline():
        future = slow.submit()
        before = future.state.name
        release.set()
        future.wait()
        return before, future.state.name, future.result(), future.done()

    before, after, value, done = pipeline()
    assert before in ("Pending", "Running") and after == "Completed"
    assert value == "done" and done


def test_future_result_times_out_clearly() -> None:
    release = threading.Event()

    @task
    def blocked() -> None:
        release.wait(10)

    @flow
    def pipeline() -> str:
        future = blocked.submit()
        try:
            future.result(timeout=0.05)
        except TimeoutError as error:
            return str(error)
        finally:
            release.set()
        return "no timeout"

    assert "did not finish within 0.05 seconds" in pipeline()


def test_map_with_unmapped_and_futures() -> None:
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task
    def scale(x: int, factor: list[int]) -> int:
        return x * sum(factor)

    @flow
    def pipeline():
        return scale.map(numbers.submit(), unmapped([1, 1])).result()

    assert pipeline() == [2, 4, 6]


def test_map_over_empty_input_runs_nothing(reporter: MemoryReporter) -> None:
    @task
    def work(x: int) -> int:
        raise AssertionError("must not run")

    @flow
    def pipeline():
        futures = work.map([])
        futures.wait()
        return futures.result()

    assert pipeline() == []
    assert reporter.task_runs == []


def test_map_passes_strings_and_dicts_whole() -> None:
    @task
    def label(x: int, prefix: str, options: dict) -> str:
        return f"{prefix}{x}{options['end']}"

    @flow
    def pipeline():
        return label.map(range(2), "n", {"end": "!"}).result()

    assert pipeline() == ["n0!", "n1!"]


def test_return_state_on_call_and_submit() -> None:
    @task
    def one() -> int:
        return 1

    @flow
    def pipeline():
        return one(return_state=True), one.submit(return_state=True)

    direct, submitted = pipeline()
    assert direct.is_completed() and direct.result() == 1 and submitted.result() == 1


def test_retry_delays_and_exponential_backoff() -> None:
    assert retry_delays(2, 3) == [2.0, 2.0, 2.0]
    assert retry_delays([1, 5], 4) == [1.0, 5.0, 5.0, 5.0]
    assert retry_delays(exponential_backoff(10), 3) == [10, 20, 40]
    assert retry_delays(7, 0) == []


def test_retry_jitter_stays_within_its_factor() -> None:
    @task(retries=3, retry_delay_seconds=[1, 2, 4], retry_jitter_factor=0.5)
    def t() -> None:
        pass

    for retry in (1, 2, 3):
        base = [1, 2, 4][retry - 1]
        assert all(base <= t.retry_delay(retry) <= base * 1.5 for _ in range(50))


def test_futures_as_arguments_are_resolved_in_collections() -> None:
    @task
    def num(x: int) -> int:
        return x

    @task
    def combine(items: list[int], mapping: dict[str, int]) -> int:
        return sum(items) + sum(mapping.values())

    @flow(task_runner=SequentialTaskRunner())
    def pipeline() -> int:
        return combine([num.submit(1), num.submit(2)], {"a": num.submit(3)})

    assert pipeline() == 6


def test_a_task_calling_a_task_runs_both(reporter: MemoryReporter) -> None:
    @task
    def inner(x: int) -> int:
        return x + 1

    @task
    def outer(x: int) -> int:
        return inner(x) * 2

    @flow
    def pipeline() -> int:
        return outer(1)

    assert pipeline() == 4
    assert sorted(r.name for r in reporter.task_runs) == ["inner-0", "outer-0"]
