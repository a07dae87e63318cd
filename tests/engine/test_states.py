"""The transition table, exhaustively: every (from, to) pair is either legal or refused."""

from __future__ import annotations

import itertools

import pytest

from jupyter_flows.engine import states
from jupyter_flows.engine.states import (
    FINAL_TYPES,
    TRANSITIONS,
    IllegalTransition,
    State,
    StateType,
    check_transition,
    is_legal,
)

S = StateType

LEGAL = {
    (S.SCHEDULED, S.SCHEDULED),
    (S.SCHEDULED, S.PENDING),
    (S.SCHEDULED, S.CANCELLED),
    (S.SCHEDULED, S.CRASHED),
    (S.PENDING, S.PENDING),
    (S.PENDING, S.RUNNING),
    (S.PENDING, S.SCHEDULED),
    (S.PENDING, S.COMPLETED),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.CANCELLING),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.CRASHED),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.RETRYING),
    (S.RUNNING, S.CANCELLING),
    (S.RUNNING, S.CANCELLED),
    (S.RUNNING, S.CRASHED),
    (S.RUNNING, S.TIMED_OUT),
    (S.RETRYING, S.RUNNING),
    (S.RETRYING, S.SCHEDULED),
    (S.RETRYING, S.CANCELLING),
    (S.RETRYING, S.CANCELLED),
    (S.RETRYING, S.CRASHED),
    (S.CANCELLING, S.CANCELLED),
    (S.CANCELLING, S.COMPLETED),
    (S.CANCELLING, S.FAILED),
    (S.CANCELLING, S.CRASHED),
    (S.CANCELLING, S.TIMED_OUT),
    (S.FAILED, S.SCHEDULED),
    (S.CANCELLED, S.SCHEDULED),
    (S.CRASHED, S.SCHEDULED),
    (S.TIMED_OUT, S.SCHEDULED),
}


@pytest.mark.parametrize(
    ("from_type", "to_type"),
    list(itertools.product(StateType, StateType)),
    ids=lambda t: t.value,
)
def test_every_pair_is_legal_or_refused_as_the_table_says(
    from_type: StateType, to_type: StateType
) -> None:
    if (from_type, to_type) in LEGAL:
        check_transition(from_type, to_type)
        assert is_legal(from_type, to_type)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition(from_type, to_type)
        assert not is_legal(from_type, to_type)
        assert f"{from_type.value} -> {to_type.value}" in str(info.value)
        assert info.value.from_type is from_type and info.value.to_type is to_type


@pytest.mark.parametrize("to_type", list(StateType), ids=lambda t: t.value)
def test_a_new_run_starts_scheduled_or_pending(to_type: StateType) -> None:
    if to_type in (S.SCHEDULED, S.PENDING):
        check_transition(None, to_type)
    else:
        with pytest.raises(IllegalTransition, match="cannot start in"):
            check_transition(None, to_type)


def test_completed_is_final_for_good() -> None:
    assert TRANSITIONS[S.COMPLETED] == frozenset()
    assert S.COMPLETED in FINAL_TYPES


def test_table_covers_every_type() -> None:
    assert set(TRANSITIONS) == set(StateType)


def test_error_lists_where_the_run_may_go() -> None:
    with pytest.raises(IllegalTransition, match="may move to: SCHEDULED"):
        check_transition(S.FAILED, S.RUNNING)


def test_flavours_keep_their_type() -> None:
    cached = states.Cached(data=3)
    assert cached.type is S.COMPLETED and cached.name == "Cached"
    assert cached.is_completed() and cached.is_cached() and cached.result() == 3
    late = states.Late()
    assert late.is_scheduled() and late.name == "Late"
    assert states.TimedOut().is_timed_out() and states.TimedOut().is_final()


def test_result_of_a_failed_state_raises_its_exception() -> None:
    error = ValueError("boom")
    failed = states.Failed("boom", exception=error)
    with pytest.raises(ValueError, match="boom"):
        failed.result()
    assert failed.result(raise_on_failure=False) is error


def test_result_of_an_unfinished_or_exceptionless_state() -> None:
    with pytest.raises(states.UnfinishedRun, match="still Running"):
        states.Running().result()
    with pytest.raises(states.FailedRun, match="Cancelled: user asked"):
        states.Cancelled("user asked").result()


def test_wire_form_is_utc() -> None:
    wire = State(S.RUNNING).to_dict()
    assert wire["type"] == "RUNNING" and wire["name"] == "Running"
    assert wire["timestamp"].endswith("+00:00")
