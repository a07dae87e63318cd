"""Errors the engine raises to users. Each says what happened and what to do.

Where Prefect has a name for the same error, that name works here too (Prefect code
catches ``ParameterTypeError`` and ``FlowRunTimeoutError``); ``jupyter_flows.exceptions``
is the import path Prefect users know as ``prefect.exceptions``.
"""

from __future__ import annotations


class FlowsError(Exception):
    """Base of the engine's own errors (Prefect: ``PrefectException``)."""


class MissingContextError(FlowsError, RuntimeError):
    """Something that needs a running flow or task was used outside one."""


class ParameterBindError(FlowsError, TypeError):
    """The call's arguments do not match the function's signature (raised before any run)."""


class ParameterValidationError(FlowsError, TypeError):
    """A parameter's value does not fit its type hint; the run fails before any task starts."""

    def __init__(self, message: str, errors: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.errors = errors


class ParameterTypeError(ParameterValidationError):
    """A parameter's value does not fit its type hint (Prefect's name; what flows raise)."""


class RunTimedOut(FlowsError, TimeoutError):
    """A flow or task ran longer than its ``timeout_seconds``."""

    run_kind = "run"


class FlowRunTimeoutError(RunTimedOut):
    """A flow run ran longer than its ``timeout_seconds`` (Prefect's name)."""

    run_kind = "flow run"


class TaskRunTimeoutError(RunTimedOut):
    """A task run ran longer than its ``timeout_seconds`` (Prefect's name)."""

    run_kind = "task run"


class UpstreamTaskError(FlowsError):
    """A task did not start because a task it depends on did not complete."""


class ResultPersistenceError(FlowsError):
    """A result could not be written to, or read from, the result store."""


class MappingError(FlowsError, ValueError):
    """``task.map`` was given iterables it cannot map over."""


class UnknownPluginError(FlowsError, ValueError):
    """No task runner, notebook engine or infrastructure has that name; the message lists
    the known ones."""


class PluginLoadError(FlowsError):
    """A plugin that cannot be used: its import failed, or it is not of its kind's class."""


class MappingMissingIterable(MappingError):
    """``task.map`` was given no iterable argument to map over (Prefect's name)."""


class MappingLengthMismatch(MappingError):
    """``task.map`` was given iterables of different lengths (Prefect's name)."""


class TimeoutInterrupt(BaseException):
    """Raised inside a timed-out task's thread to stop it at its next Python instruction.

    A BaseException, so that a task's own ``except Exception`` does not swallow it.
    """
