"""Flows: calling, failing, parameters, subflows, retries, options."""

from __future__ import annotations

from datetime import date
from typing import Literal

import pydantic
import pytest

from jupyter_flows import flow, task
from jupyter_flows.engine.errors import ParameterBindError, ParameterValidationError
from jupyter_flows.engine.reporter import MemoryReporter
from jupyter_flows.engine.states import State


# -- failure paths first -------------------------------------------------------------------
def test_a_flow_that_raises_raises_with_its_failed_state(reporter: MemoryReporter) -> None:
    @flow
    def broken() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing") as info:
        broken()
    state = info.value.flow_run_state  # type: ignore[attr-defined]
    assert state.is_failed() and "KeyError" in state.message
    run = reporter.flow_runs[0]
    assert reporter.states_of(run.id) == ["Pending", "Running", "Failed"]


def test_return_state_gives_the_failed_state_instead_of_raising() -> None:
    @flow
    def broken() -> None:
        raise RuntimeError("no")

    state = broken(return_state=True)
    assert isinstance(state, State) and state.is_failed()
    with pytest.raises(RuntimeError):
        state.result()


def test_bad_parameter_type_fails_the_run_before_any_task_starts(
    reporter: MemoryReporter,
) -> None:
    started: list[int] = []

    @task
    def work(n: int) -> int:
        started.append(n)
        return n

    @flow
    def pipeline(n: int, when: date) -> int:
        return work(n)

    state = pipeline("many", "2026-01-01", return_state=True)
    assert state.is_failed()
    assert "parameter 'n' expects int, got 'many' (str)" in state.message
    assert started == [], "no task may start when parameters are invalid"
    assert reporter.task_runs == []
    assert reporter.states_of(reporter.flow_runs[0].id) == ["Pending", "Failed"]
    with pytest.raises(ParameterValidationError, match="'n' expects int") as info:
        pipeline("many", "2026-01-01")
    assert info.value.errors[0]["loc"] == ("n",)


def test_every_bad_parameter_is_named() -> None:
    @flow
    def pipeline(a: int, b: list[float], mode: Literal["fast", "slow"] = "fast") -> None:
        pass

    state = pipeline("x", ["1.5", "nope"], mode="medium", return_state=True)
    assert "'a' expects int" in state.message
    assert "'b' expects list[float], got ['1.5', 'nope'] (list) at 1" in state.message
    assert "'mode'" in state.message and "'medium'" in state.message


def test_unknown_or_missing_parameters_are_refused_before_a_run_exists(
    reporter: MemoryReporter,
) -> None:
    @flow
    def pipeline(n: int) -> int:
        return n

    with pytest.raises(ParameterBindError, match="unexpected keyword argument 'm'"):
        pipeline(1, m=2)
    with pytest.raises(ParameterBindError, match="missing a required argument: 'n'"):
        pipeline()
    assert reporter.flow_runs == []


# -- success paths ---------------------------------------------------------------------
class Settings(pydantic.BaseModel):
    rate: float


def test_parameters_are_coerced_to_their_hints() -> None:
    @flow
    def pipeline(n: int, when: date, settings: Settings, names: list[str] | None = None):
        return n, when, settings, names

    n, when, settings, names = pipeline("3", "2026-01-02", {"rate": "0.5"})
    assert n == 3 and when == date(2026, 1, 2) and settings.rate == 0.5 and names is None


def test_a_hint_that_cannot_be_resolved_is_not_validated() -> None:
    class Local:
        pass

    @flow
    def pipeline(n: int, thing: Local):
        return n, thing

    assert pipeline("2", "anything") == (2, "anything")


def test_validate_parameters_false_passes_values_through() -> None:
    @flow(validate_parameters=False)
    def pipeline(n: int):
        return n

    assert pipeline("3") == "3"


def test_a_flow_returns_its_value_and_records_its_run(reporter: MemoryReporter) -> None:
    @flow(name="etl", version="7", tags=["nightly"], description="Loads things.")
    def pipeline(x: int = 2) -> int:
        return x * 21

    assert pipeline() == 42
    run = reporter.flow_runs[0]
    assert run.flow_name == "etl" and run.flow_version == "7" and run.tags == ["nightly"]
    assert run.parameters == {"x": 2}
    assert reporter.states_of(run.id) == ["Pending", "Running", "Completed"]
    assert pipeline.description == "Loads things."


def test_default_flow_name_follows_prefect() -> None:
    @flow
    def my_etl_flow() -> None:
        pass

    assert my_etl_flow.name == "my-etl-flow"


def test_a_subflow_is_linked_to_its_parent(reporter: MemoryReporter) -> None:
    @flow
    def child(x: int) -> int:
        return x + 1

    @flow
    def parent() -> int:
        return child(1) + child(2)

    assert parent() == 5
    parent_run, *children = reporter.flow_runs
    assert parent_run.parent_flow_run_id is None
    assert [c.parent_flow_run_id for c in children] == [parent_run.id, parent_run.id]


def test_a_subflow_called_in_a_task_names_that_task(reporter: MemoryReporter) -> None:
    @flow
    def child() -> str:
        return "ok"

    @task
    def launcher() -> str:
        return child()

    @flow
    def parent() -> str:
        return launcher()

    assert parent() == "ok"
    child_run = reporter.flow_runs[1]
    assert child_run.parent_task_run_id == reporter.task_run_named("launcher-0").id


def test_flow_retries_run_the_body_again(reporter: MemoryReporter) -> None:
    attempts: list[int] = []

    @flow(retries=2, retry_delay_seconds=0)
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return len(attempts)

    assert flaky() == 3
    assert reporter.states_of(reporter.flow_runs[0].id) == [
        "Pending",
        "Running",
        "Retrying",
        "Running",
        "Retrying",
        "Running",
        "Completed",
    ]


def test_flow_retries_exhausted_fail_with_the_last_error() -> None:
    @flow(retries=1)
    def always() -> None:
        raise ConnectionError("down")

    state = always(return_state=True)
    assert state.is_failed() and "ConnectionError: down" in state.message


def test_a_flow_returning_a_failed_future_fails() -> None:
    @task
    def bad() -> None:
        raise ValueError("inner")

    @flow
    def pipeline():
        return bad.submit()

    state = pipeline(return_state=True)
    assert state.is_failed() and "bad-0" in state.message


def test_returned_futures_are_resolved() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    @flow
    def pipeline():
        return {"a": double.submit(1), "b": [double.submit(2)]}

    assert pipeline() == {"a": 2, "b": [4]}


def test_with_options_changes_a_copy() -> None:
    @flow(name="one", retries=1)
    def pipeline() -> str:
        return "x"

    other = pipeline.with_options(name="two")
    assert other.name == "two" and other.retries == 1 and pipeline.name == "one"
    with pytest.raises(TypeError, match="unknown flow options: bogus"):
        pipeline.with_options(bogus=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be"),
        ({"timeout_seconds": 0}, "timeout_seconds must be positive"),
        ({"retry_delay_seconds": [-1]}, "must not be negative"),
        ({"task_runner": "threads"}, "task_runner must be a TaskRunner"),
    ],
)
def test_bad_flow_options_are_refused_at_decoration(options: dict, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        flow(**options)(lambda: None)


def test_keyboard_interrupt_crashes_the_run_and_propagates(reporter: MemoryReporter) -> None:
    @flow
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert reporter.states_of(reporter.flow_runs[0].id)[-1] == "Crashed"


def test_run_names_from_templates_and_functions(reporter: MemoryReporter) -> None:
    @task(task_run_name="load-{table}")
    def load(table: str) -> str:
        return __import__("jupyter_flows").get_run_context().task_run.name

    @task(task_run_name=lambda: "computed")
    def other() -> None:
        return None

    @flow(flow_run_name="nightly-{day}")
    def nightly(day: str) -> str:
        other()
        return load("users")

    assert nightly("monday") == "load-users"
    assert reporter.flow_runs[0].name == "nightly-monday"
    assert [run.name for run in reporter.task_runs] == ["computed", "load-users"]

    @flow(flow_run_name="{missing}")
    def broken() -> None:
        pass

    with pytest.raises(ValueError, match="uses 'missing', which is not one of the run's"):
        broken()
