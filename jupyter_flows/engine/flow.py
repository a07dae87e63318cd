"""@flow: a function whose calls are flow runs.

Calling a flow runs it in the caller's process and returns its value (or raises its error;
the failed state is on the error as ``flow_run_state`` and returned with
``return_state=True``). A flow called inside a flow is a subflow: its run names its parent.
An ``async def`` flow called from async code, or outside any run, returns a coroutine
(``asyncio.run(my_flow())``, ``await my_flow()``); called from a sync flow or task it runs
on an event loop of its own. A generator flow returns a generator (see
``engine.flow_run``, which runs them all).

Parameters are checked against the function's type hints with pydantic before anything
runs; a bad value fails the run with a message that names the parameter, the expected type
and the value, and no task starts.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from jupyter_flows.engine.callables import FunctionKind, MethodBinding, RunName, unwrap_method
from jupyter_flows.engine.driver import caller_is_sync
from jupyter_flows.engine.errors import ParameterBindError, ParameterTypeError
from jupyter_flows.engine.flow_run import (
    TIMEOUT_EXIT_CODE,
    run_flow,
    run_flow_async,
    stream_flow,
)
from jupyter_flows.engine.runners import TaskRunner, ThreadPoolTaskRunner
from jupyter_flows.engine.task import RetryDelay, check_decorator_options, retry_delays

__all__ = ["TIMEOUT_EXIT_CODE", "Flow", "flow", "run_flow", "run_flow_async"]

P = ParamSpec("P")
R = TypeVar("R")

_EXACT = (int, float, str, bool, bytes)


class Flow(MethodBinding, Generic[P, R]):
    """A function whose calls are flow runs (see ``flow``)."""

    def __init__(
        self,
        fn: Callable[P, R] | classmethod[Any, P, R] | staticmethod[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        tags: Iterable[str] | None = None,
        retries: int = 0,
        retry_delay_seconds: RetryDelay = 0,
        timeout_seconds: float | None = None,
        validate_parameters: bool = True,
        task_runner: TaskRunner | None = None,
        log_prints: bool | None = None,
        persist_result: bool | None = None,
        result_storage: str | None = None,
        flow_run_name: RunName | None = None,
    ) -> None:
        decorated = fn
        fn, method_kind = unwrap_method(fn)
        check_decorator_options("flow", fn, retries, timeout_seconds)
        if task_runner is not None and not isinstance(task_runner, TaskRunner):
            raise TypeError(
                f"task_runner must be a TaskRunner instance, got {type(task_runner).__name__}"
            )
        self.fn = fn
        functools.update_wrapper(self, fn)  # first: it copies the function's __dict__ here
        self._method_kind = method_kind
        self.kind = FunctionKind(fn)
        self._decorated = decorated
        self.name = name or fn.__name__.replace("_", "-")
        self.description = description or inspect.getdoc(fn)
        self.version = version
        self.tags = frozenset(tags or ())
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.timeout_seconds = timeout_seconds
        self.validate_parameters = validate_parameters
        self.task_runner = task_runner or ThreadPoolTaskRunner()
        self.log_prints = log_prints
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.flow_run_name = flow_run_name
        self._delays = retry_delays(retry_delay_seconds, retries)
        self._options = dict(
            name=name,
            description=description,
            version=version,
            tags=tags,
            retries=retries,
            retry_delay_seconds=retry_delay_seconds,
            timeout_seconds=timeout_seconds,
            validate_parameters=validate_parameters,
            task_runner=task_runner,
            log_prints=log_prints,
            persist_result=persist_result,
            result_storage=result_storage,
            flow_run_name=flow_run_name,
        )
        self.signature = inspect.signature(fn)
        self._hints: dict[str, Any] | None = None
        self._model: Any = None

    def with_options(self, **changes: Any) -> Flow[P, R]:
        unknown = set(changes) - set(self._options)
        if unknown:
            raise TypeError(f"unknown flow options: {', '.join(sorted(unknown))}")
        changed: Flow[P, R] = Flow(self._decorated, **{**self._options, **changes})
        changed._bound = self._bound
        return changed

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return_state = bool(kwargs.pop("return_state", False))
        if self._bound:
            args = (*self._bound, *args)  # type: ignore[assignment]
        if self.kind.is_generator:
            if return_state:
                raise ValueError(
                    f"flow {self.name!r} is a generator: its values come as it runs, so it "
                    "has no state to return when called; iterate it"
                )
            return stream_flow(self, args, kwargs)  # type: ignore[return-value]
        if self.kind.is_async and not caller_is_sync():
            return run_flow_async(self, args, kwargs, return_state)  # type: ignore[return-value]
        result: R = run_flow(self, args, kwargs, return_state)
        return result

    # -- parameters ----------------------------------------------------------------------
    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name, defaults filled in."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise ParameterBindError(f"flow {self.name!r}: {error}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    @property
    def type_hints(self) -> dict[str, Any]:
        if self._hints is None:
            try:
                hints = typing.get_type_hints(self.fn)
            except Exception:  # a name that cannot be resolved: validate what we can
                hints = _resolvable_hints(self.fn)
            hints.pop("return", None)
            self._hints = {
                name: hint
                for name, hint in hints.items()
                if name in self.signature.parameters
                and self.signature.parameters[name].kind
                not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            }
        return self._hints

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Parameters checked and coerced against the type hints (pydantic v2)."""
        hints = self.type_hints
        if not hints:
            return parameters
        # Values already of their exact annotated builtin type need no pydantic at all.
        if all(hint in _EXACT and type(parameters[name]) is hint for name, hint in hints.items()):
            return parameters
        import pydantic

        if self._model is None:
            fields: dict[str, Any] = {name: (hint, ...) for name, hint in hints.items()}
            self._model = pydantic.create_model(
                f"{self.fn.__name__}_parameters",
                __config__=pydantic.ConfigDict(arbitrary_types_allowed=True),
                **fields,
            )
        subset = {name: parameters[name] for name in hints}
        try:
            model = self._model.model_validate(subset)
        except pydantic.ValidationError as error:
            raise ParameterTypeError(
                self._explain(error, subset),
                error.errors(include_url=False),  # type: ignore[arg-type]
            ) from None
        return {**parameters, **{name: getattr(model, name) for name in hints}}

    def _explain(self, error: Any, values: dict[str, Any]) -> str:
        problems = []
        for item in error.errors(include_url=False):
            name = str(item["loc"][0]) if item["loc"] else "?"
            where = ".".join(str(part) for part in item["loc"][1:])
            value = values.get(name, item.get("input"))
            problems.append(
                f"parameter {name!r} expects {_type_name(self.type_hints.get(name))}, "
                f"got {value!r} ({type(value).__name__})"
                + (f" at {where}" if where else "")
                + f": {item['msg']}"
            )
        return f"flow {self.name!r} was called with invalid parameters; " + "; ".join(problems)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"


def _resolvable_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Each annotation that resolves on its own; the others are not validated."""
    hints: dict[str, Any] = {}
    namespace = getattr(fn, "__globals__", {})
    for name, annotation in getattr(fn, "__annotations__", {}).items():
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # noqa: S307 - the function's own
            except Exception:
                continue
        hints[name] = annotation
    return hints


def _type_name(hint: Any) -> str:
    if hint is None:
        return "any value"
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


@overload
def flow(__fn: Callable[P, R]) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    description: str | None = None,
    version: str | None = None,
    tags: Iterable[str] | None = None,
    retries: int = 0,
    retry_delay_seconds: RetryDelay = 0,
    timeout_seconds: float | None = None,
    validate_parameters: bool = True,
    task_runner: TaskRunner | None = None,
    log_prints: bool | None = None,
    persist_result: bool | None = None,
    result_storage: str | None = None,
    flow_run_name: RunName | None = None,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(__fn: Any = None, **options: Any) -> Any:
    """Make a function a flow: bare (``@flow``) or with options (``@flow(retries=1)``)."""
    if __fn is not None:
        return Flow(__fn, **options)
    return lambda fn: Flow(fn, **options)
