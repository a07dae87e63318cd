"""What the store raises. The server maps these to HTTP once (404, 409, 422).

``IllegalTransition`` (from ``jupyter_flows.engine.states``) is raised as it is: it already
names the states involved, and the engine raises the same type.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's own errors."""


class NotFound(StoreError, LookupError):
    """No row has that id (or name)."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class Conflict(StoreError):
    """The change clashes with the current data (a duplicate name, a concurrent change)."""


class StateConflict(Conflict):
    """Another writer changed the run's state first; re-read the run and decide again."""

    def __init__(self, run_id: str, expected_type: object, expected_seq: int) -> None:
        self.run_id = run_id
        self.expected_type = expected_type
        self.expected_seq = expected_seq
        super().__init__(
            f"run {run_id} is no longer in state {expected_type} (state #{expected_seq}): "
            "another change won the race"
        )


class InvalidInput(StoreError, ValueError):
    """An argument is malformed (an unknown policy, a bad cron line, a bad timezone)."""
