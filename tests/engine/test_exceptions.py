"""Prefect's names for errors and states work: ``jupyter_flows.exceptions``, TimedOut as a
failure, ``FlowRunTimeoutError``, ``ParameterTypeError``."""

from __future__ import annotations

import threading

import pytest

from jupyter_flows import flow, task
from jupyter_flows.engine.reporter import MemoryReporter
from jupyter_flows.engine.states import FAILED_TYPES, TRANSITIONS, StateType
from jupyter_flows.exceptions import (
    FlowRunTimeoutError,
    FlowsError,
    MappingLengthMismatch,
    MappingMissingIterable,
    ParameterTypeError,
    ParameterValidationError,
    PrefectException,
    RunTimedOut,
    TaskRunTimeoutError,
    UpstreamTaskError,
)
from jupyter_flows.states import Failed, TimedOut


def test_timed_out_is_a_failure_with_a_type_of_its_own() -> None:
    state = TimedOut("too slow")
    assert state.is_failed() and state.is_timed_out() and state.is_final()
    assert state.type is StateType.TIMED_OUT, "the server and the UI still see TIMED_OUT"
    assert state.to_dict()["type"] == "TIMED_OUT" and state.name == "TimedOut"
    assert {StateType.FAILED, StateType.TIMED_OUT} == FAILED_TYPES
    assert not Failed().is_timed_out()
    assert TRANSITIONS[StateType.TIMED_OUT] == TRANSITIONS[StateType.FAILED]


def test_a_timed_out_task_is_failed_for_prefect_code(reporter: MemoryReporter) -> None:
    release = threading.Event()

    @task(timeout_seconds=0.05)
    def stuck() -> None:
        release.wait(10)

    @flow
    def pipeline():
        state = stuck(return_state=True)
        release.set()
        return "failed" if state.is_failed() else "not failed", state

    verdict, state = pipeline()
    assert verdict == "failed"
    assert isinstance(state.exception, TaskRunTimeoutError)
    assert isinstance(state.exception, TimeoutError) and isinstance(state.exception, RunTimedOut)


def test_a_flow_timeout_raises_flow_run_timeout_error(reporter: MemoryReporter) -> None:
    release = threading.Event()

    @flow(timeout_seconds=0.05)
    def slow() -> None:
        release.wait(10)

    with pytest.raises(FlowRunTimeoutError) as info:
        slow()
    release.set()
    error = info.value
    assert isinstance(error, TimeoutError) and isinstance(error, RunTimedOut)
    assert type(error).__name__ == "FlowRunTimeoutError"
    assert error.flow_run_state.is_timed_out() and error.flow_run_state.is_failed()


def test_a_subflow_timeout_does_not_time_the_parent_out(reporter: MemoryReporter) -> None:
    release = threading.Event()

    @flow(timeout_seconds=0.05)
    def child() -> None:
        release.wait(10)

    @flow
    def parent() -> None:
        child()

    with pytest.raises(FlowRunTimeoutError):
        parent()
    release.set()
    parent_run = next(run for run in reporter.flow_runs if run.flow_name == "parent")
    assert reporter.states_of(parent_run.id)[-1] == "Failed", "the child timed out, not it"


def test_a_bad_parameter_is_a_parameter_type_error() -> None:
    @flow
    def typed(n: int) -> int:
        return n

    with pytest.raises(ParameterTypeError, match="'n' expects int") as info:
        typed("many")  # type: ignore[arg-type]
    assert isinstance(info.value, ParameterValidationError) and isinstance(info.value, TypeError)


def test_the_errors_share_one_base_under_prefect_names() -> None:
    assert PrefectException is FlowsError
    for error in (UpstreamTaskError, MappingLengthMismatch, MappingMissingIterable):
        assert issubclass(error, PrefectException)

    @task
    def add(x: int, y: int) -> int:
        return x + y

    @flow
    def pipeline() -> None:
        add.map([1, 2], [1])

    with pytest.raises(MappingLengthMismatch, match="different lengths"):
        pipeline()
