"""Run states and the one table of legal transitions.

Pure data, shared by the engine (which proposes transitions as a run progresses) and the
server (which refuses illegal ones with 409). Names follow Prefect: a state has a *type*,
which the transition table is written in, and a *name*, which may be a flavour of its type
("Cached" is a Completed, "Late" is a Scheduled).

TimedOut keeps a type of its own here (the server, its transition table and the UI group
runs by it), but it is a failure: ``is_failed()`` is True for it, as for Prefect's TimedOut,
which is a state *named* TimedOut of type FAILED. ``FAILED_TYPES`` is that grouping.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from jupyter_flows.engine.errors import FlowsError

UTC = timezone.utc


class StateType(str, enum.Enum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    RETRYING = "RETRYING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    TIMED_OUT = "TIMED_OUT"

    def __str__(self) -> str:
        return self.value


#: The display name of each type; flavours (Cached, Late) override it per state.
DEFAULT_NAMES: dict[StateType, str] = {
    StateType.SCHEDULED: "Scheduled",
    StateType.PENDING: "Pending",
    StateType.RUNNING: "Running",
    StateType.RETRYING: "Retrying",
    StateType.COMPLETED: "Completed",
    StateType.FAILED: "Failed",
    StateType.CANCELLING: "Cancelling",
    StateType.CANCELLED: "Cancelled",
    StateType.CRASHED: "Crashed",
    StateType.TIMED_OUT: "TimedOut",
}

#: A run in one of these states will not change again unless it is re-run.
FINAL_TYPES = frozenset(
    {
        StateType.COMPLETED,
        StateType.FAILED,
        StateType.CANCELLED,
        StateType.CRASHED,
        StateType.TIMED_OUT,
    }
)

#: The types ``is_failed()`` answers True for: Failed, and TimedOut (a failure by timeout).
FAILED_TYPES = frozenset({StateType.FAILED, StateType.TIMED_OUT})

#: Final states that did not succeed.
FAILURE_TYPES = frozenset(
    {StateType.FAILED, StateType.CANCELLED, StateType.CRASHED, StateType.TIMED_OUT}
)

S = StateType
#: from-type -> the types it may move to. Everything not listed is illegal.
#:
#: - Scheduled -> Scheduled and Pending -> Pending re-state the same run (Late, a new
#:   pending reason); no other type may move to itself.
#: - Pending -> Completed is a cache hit; Pending -> Failed is a run refused before it
#:   started (bad parameters, an upstream task failed); Pending -> Scheduled hands a
#:   claimed run back to its queue (an agent shutting down).
#: - Retrying is "this attempt failed and another will run": it goes back to Running (a
#:   task retried in process) or Scheduled (a flow run retried through its queue).
#: - A run that did not succeed may be re-run: Failed, Crashed, TimedOut and Cancelled go
#:   back to Scheduled. Completed is final for good.
#: - Cancelling may still end any final way: the work can finish before the stop lands.
TRANSITIONS: dict[StateType, frozenset[StateType]] = {
    S.SCHEDULED: frozenset({S.SCHEDULED, S.PENDING, S.CANCELLED, S.CRASHED}),
    S.PENDING: frozenset(
        {
            S.PENDING,
            S.RUNNING,
            S.SCHEDULED,
            S.COMPLETED,
            S.FAILED,
            S.CANCELLING,
            S.CANCELLED,
            S.CRASHED,
        }
    ),
    S.RUNNING: frozenset(
        {S.COMPLETED, S.FAILED, S.RETRYING, S.CANCELLING, S.CANCELLED, S.CRASHED, S.TIMED_OUT}
    ),
    S.RETRYING: frozenset({S.RUNNING, S.SCHEDULED, S.CANCELLING, S.CANCELLED, S.CRASHED}),
    S.CANCELLING: frozenset({S.CANCELLED, S.COMPLETED, S.FAILED, S.CRASHED, S.TIMED_OUT}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset({S.SCHEDULED}),
    S.CANCELLED: frozenset({S.SCHEDULED}),
    S.CRASHED: frozenset({S.SCHEDULED}),
    S.TIMED_OUT: frozenset({S.SCHEDULED}),
}
del S

#: Where a new run may start.
INITIAL_TYPES = frozenset({StateType.SCHEDULED, StateType.PENDING})


class IllegalTransition(ValueError):
    """A run was asked to move between two states the transition table does not link."""

    def __init__(self, from_type: StateType | None, to_type: StateType) -> None:
        self.from_type = from_type
        self.to_type = to_type
        if from_type is None:
            allowed = ", ".join(sorted(t.value for t in INITIAL_TYPES))
            msg = f"a new run cannot start in {to_type.value}; it starts in one of: {allowed}"
        else:
            allowed = ", ".join(sorted(t.value for t in TRANSITIONS[from_type])) or "nothing"
            msg = (
                f"illegal state transition {from_type.value} -> {to_type.value}; "
                f"from {from_type.value} a run may move to: {allowed}"
            )
        super().__init__(msg)


def is_legal(from_type: StateType | None, to_type: StateType) -> bool:
    if from_type is None:
        return to_type in INITIAL_TYPES
    return to_type in TRANSITIONS[from_type]


def check_transition(from_type: StateType | None, to_type: StateType) -> None:
    """Raise IllegalTransition unless a run in ``from_type`` may move to ``to_type``."""
    if not is_legal(from_type, to_type):
        raise IllegalTransition(from_type, to_type)


class State:
    """One state of a flow or task run.

    ``data`` holds the run's result in memory (only for Completed); ``exception`` the error a
    failed state was made from. Neither leaves the process: a reporter sends type, name,
    message and timestamp. ``run_id`` is set when a run takes the state: a state made by
    hand and returned by a flow or task has none (see ``engine.return_values``).
    """

    __slots__ = ("type", "name", "message", "timestamp", "data", "exception", "run_id")

    def __init__(
        self,
        type: StateType,
        name: str | None = None,
        message: str | None = None,
        *,
        data: Any = None,
        exception: BaseException | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        self.type = type
        self.name = name or DEFAULT_NAMES[type]
        self.message = message
        self.data = data
        self.exception = exception
        self.timestamp = timestamp or datetime.now(UTC)
        self.run_id: str | None = None

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_retrying(self) -> bool:
        return self.type is StateType.RETRYING

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_cached(self) -> bool:
        return self.type is StateType.COMPLETED and self.name == "Cached"

    def is_failed(self) -> bool:
        """Failed, or TimedOut: a run that ended by an error of its own (Prefect's meaning)."""
        return self.type in FAILED_TYPES

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelling(self) -> bool:
        return self.type is StateType.CANCELLING

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_timed_out(self) -> bool:
        return self.type is StateType.TIMED_OUT

    def is_final(self) -> bool:
        return self.type in FINAL_TYPES

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's return value; for a state that did not complete, raise its error.

        With ``raise_on_failure=False`` the error is returned instead of raised.
        """
        if self.type is StateType.COMPLETED:
            return self.data
        error = self.exception or _error_for(self)
        if raise_on_failure:
            raise error
        return error

    def to_dict(self) -> dict[str, Any]:
        """The wire form: what reporters, the store and the API carry."""
        return {
            "type": self.type.value,
            "name": self.name,
            "message": self.message,
            "timestamp": self.timestamp.isoformat(),
        }

    def __repr__(self) -> str:
        message = f", message={self.message!r}" if self.message else ""
        return f"{self.name}(type={self.type.value}{message})"


class UnfinishedRun(FlowsError, RuntimeError):
    """The result of a run that has not reached a final state was asked for."""


class FailedRun(FlowsError, RuntimeError):
    """A run did not complete and carries no exception of its own (cancelled, crashed)."""


class CancelledRun(FailedRun):
    """The result of a cancelled run was asked for."""


class CrashedRun(FailedRun):
    """The result of a crashed run was asked for."""


def _error_for(state: State) -> BaseException:
    if state.type in FINAL_TYPES:
        kind = {StateType.CANCELLED: CancelledRun, StateType.CRASHED: CrashedRun}.get(
            state.type, FailedRun
        )
        return kind(f"run ended in state {state.name}: {state.message or 'no message'}")
    return UnfinishedRun(f"run is still {state.name}; it has no result yet")


def _make(type: StateType, default_name: str | None = None) -> Callable[..., State]:
    def factory(
        message: str | None = None,
        *,
        name: str | None = None,
        data: Any = None,
        exception: BaseException | None = None,
    ) -> State:
        return State(type, name or default_name, message, data=data, exception=exception)

    factory.__name__ = default_name or DEFAULT_NAMES[type]
    factory.__doc__ = f"A new {factory.__name__} state."
    return factory


Scheduled = _make(StateType.SCHEDULED)
Late = _make(StateType.SCHEDULED, "Late")
Pending = _make(StateType.PENDING)
Running = _make(StateType.RUNNING)
Retrying = _make(StateType.RETRYING)
Completed = _make(StateType.COMPLETED)
Cached = _make(StateType.COMPLETED, "Cached")
Failed = _make(StateType.FAILED)
Cancelling = _make(StateType.CANCELLING)
Cancelled = _make(StateType.CANCELLED)
Crashed = _make(StateType.CRASHED)
TimedOut = _make(StateType.TIMED_OUT)
