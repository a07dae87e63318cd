"""What a flow or task wraps: a plain or ``async`` function, a generator, or a method;
and the names its runs get (``flow_run_name``, ``task_run_name``).

``@flow`` and ``@task`` may sit over ``@classmethod`` and ``@staticmethod``, and may decorate
instance methods: ``MethodBinding.__get__`` binds the instance (or the class) the way Python
binds a plain function, and the runs receive it as their first argument. It is not one of
the run's reported parameters: an object is not a parameter a server can show or replay.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

Self = TypeVar("Self", bound="MethodBinding")

#: ``flow_run_name`` / ``task_run_name``: a template of the run's parameters
#: (``"hello-{name}-on-{date:%A}"``) or a function of no arguments.
RunName = str | Callable[[], str]

FUNCTION, INSTANCE_METHOD, CLASS_METHOD, STATIC_METHOD = (
    "function",
    "method",
    "classmethod",
    "staticmethod",
)


def unwrap_method(fn: Any) -> tuple[Callable[..., Any], str]:
    """The function inside a ``classmethod``/``staticmethod``, and which of them it was."""
    if isinstance(fn, classmethod):
        return fn.__func__, CLASS_METHOD
    if isinstance(fn, staticmethod):
        return fn.__func__, STATIC_METHOD
    return fn, FUNCTION


class FunctionKind:
    """How a function runs: awaited (``async def``), iterated (``yield``), or called."""

    __slots__ = ("is_async", "is_generator")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        self.is_generator = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)


class MethodBinding:
    """The descriptor part of Flow and Task: bind an instance or class on attribute access."""

    _method_kind: str = FUNCTION
    #: What the runs receive before the call's own arguments: () or (instance or class,).
    _bound: tuple[Any, ...] = ()

    def __get__(self: Self, instance: Any, owner: Any = None) -> Self:
        if self._method_kind == STATIC_METHOD:
            return self
        if self._method_kind == CLASS_METHOD:
            target = owner if owner is not None else type(instance)
        elif instance is None:  # looked up on the class: the plain function, unbound
            return self
        else:
            target = instance
        bound = copy.copy(self)
        bound._bound = (target,)
        if self._method_kind == FUNCTION:
            bound._method_kind = INSTANCE_METHOD
        return bound

    def bound_parameter(self, signature: inspect.Signature) -> str | None:
        """The name of the parameter the bound instance or class fills, if any."""
        if not self._bound:
            return None
        return next(iter(signature.parameters), None)


def format_run_name(template: RunName, parameters: dict[str, Any], owner: str) -> str:
    """A run's name from its template, formatted with the run's parameters, or from a
    function's answer."""
    if callable(template):
        name = template()
    else:
        try:
            name = template.format(**parameters)
        except (KeyError, IndexError) as error:
            known = ", ".join(parameters) or "none"
            raise ValueError(
                f"{owner}: the run name {template!r} uses {error}, which is not one of the "
                f"run's parameters ({known})"
            ) from None
    if not isinstance(name, str):
        raise TypeError(f"{owner}: a run name must be a string, got {type(name).__name__}")
    return name
