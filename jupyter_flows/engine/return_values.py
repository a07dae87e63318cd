"""The state a run ends in, from what its function returned (Prefect's rules).

- A state made by hand (``return Completed(name="Skipped")``, ``return Failed("bad row")``)
  is the run's final state, with its type, name and message.
- A run's own state (``task(..., return_state=True)``), or a list, tuple or set of states,
  is aggregated: Completed ("All states completed.") when all completed, Cancelled when any
  was cancelled, else Failed ("1/3 states failed."), whose error is the first failed one's.
- Anything else completes the run with that value.

A returned generator is consumed into a list inside the attempt (``settle``), as Prefect
does: a generator can be neither persisted nor sent anywhere, and its body must run inside
the run that made it, under its timeout.
"""

from __future__ import annotations

import types
from typing import Any

from jupyter_flows.engine.nested import PLAIN
from jupyter_flows.engine.states import (
    FINAL_TYPES,
    Cancelled,
    Completed,
    Failed,
    State,
)


def settle(value: Any) -> Any:
    """``value`` as a run may keep it: a generator becomes the list of what it yields."""
    if isinstance(value, types.GeneratorType):
        return list(value)
    return value


def is_state_collection(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple, set, frozenset))
        and bool(value)
        and all(isinstance(item, State) for item in value)
    )


def final_state(value: Any) -> State:
    """The state a run ends in when its function returned ``value``."""
    if type(value) in PLAIN:
        return Completed(data=value)
    if isinstance(value, State):
        if value.run_id is None:
            return _given(value)
        return _aggregate([value], value)
    if is_state_collection(value):
        return _aggregate(list(value), value)
    return Completed(data=value)


def _given(state: State) -> State:
    if state.type not in FINAL_TYPES:
        return Failed(
            f"the function returned a {state.name} state, but a run can only end in a final "
            "state (Completed, Failed, Cancelled, Crashed, TimedOut)"
        )
    # A copy: one state object may be returned by many runs (a module-level constant).
    return State(state.type, state.name, state.message, data=state.data, exception=state.exception)


def _aggregate(states: list[State], value: Any) -> State:
    total = len(states)
    if all(state.is_completed() for state in states):
        return Completed("All states completed.", data=value)
    cancelled = sum(state.is_cancelled() for state in states)
    if cancelled:
        return Cancelled(f"{cancelled}/{total} states cancelled.", data=value)
    failed = [state for state in states if state.is_failed() or state.is_crashed()]
    unfinished = sum(state.type not in FINAL_TYPES for state in states)
    if failed:
        message = f"{len(failed)}/{total} states failed."
    else:
        message = f"{unfinished}/{total} states are not final."
    first = failed[0] if failed else None
    error = first.result(raise_on_failure=False) if first is not None else None
    return Failed(message, data=value, exception=error)
