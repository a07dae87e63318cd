"""The errors flows and tasks raise, where Prefect keeps them (``prefect.exceptions``).

This project's own names stay the base classes; Prefect's names are the same classes or
subclasses of them, so ``except ParameterTypeError`` and ``except ParameterValidationError``
both catch a bad parameter, and a flow's timeout is a ``FlowRunTimeoutError``, a
``RunTimedOut`` and a ``TimeoutError`` at once.
"""

from jupyter_flows.engine.errors import (
    FlowRunTimeoutError,
    FlowsError,
    MappingError,
    MappingLengthMismatch,
    MappingMissingIterable,
    MissingContextError,
    ParameterBindError,
    ParameterTypeError,
    ParameterValidationError,
    ResultPersistenceError,
    RunTimedOut,
    TaskRunTimeoutError,
    UpstreamTaskError,
)
from jupyter_flows.engine.states import CancelledRun, CrashedRun, FailedRun, UnfinishedRun

#: Prefect's name for the base of its errors.
PrefectException = FlowsError

__all__ = [
    "CancelledRun",
    "CrashedRun",
    "FailedRun",
    "FlowRunTimeoutError",
    "FlowsError",
    "MappingError",
    "MappingLengthMismatch",
    "MappingMissingIterable",
    "MissingContextError",
    "ParameterBindError",
    "ParameterTypeError",
    "ParameterValidationError",
    "PrefectException",
    "ResultPersistenceError",
    "RunTimedOut",
    "TaskRunTimeoutError",
    "UnfinishedRun",
    "UpstreamTaskError",
]
