"""@flow and the flow engine: one flow run from Pending to a final state.

Calling a flow runs it in the caller's process and returns its value (or raises its error;
the failed state is on the error as ``flow_run_state`` and returned with
``return_state=True``). A flow called inside a flow is a subflow: its run names its parent.

Parameters are checked against the function's type hints with pydantic before anything
runs; a bad value fails the run with a message that names the parameter, the expected type
and the value, and no task starts.

A flow that runs in a process of its own (``JUPYTER_FLOWS_RUN_PROCESS=1``, which agents set)
ends that process when it times out, after reporting TimedOut: threads that Python cannot
stop do not outlive their run. In a notebook or script the run is marked TimedOut and its
caller gets ``RunTimedOut``; see ``engine.timeouts`` for what happens to the work.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import random
import sys
import time
import typing
from collections.abc import Callable, Iterable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from jupyter_flows.engine.cache import ResultStore
from jupyter_flows.engine.context import FlowRunContext, current_tags, flow_run_context
from jupyter_flows.engine.context import task_run_context as _task_run_context
from jupyter_flows.engine.errors import (
    ParameterBindError,
    ParameterValidationError,
    ResultPersistenceError,
    RunTimedOut,
)
from jupyter_flows.engine.ids import new_id
from jupyter_flows.engine.logs import capture_prints, configure_logging, flow_logger
from jupyter_flows.engine.reporter import FlowRunRecord, Reporter, StateRecord, current_reporter
from jupyter_flows.engine.run_env import RunEnv
from jupyter_flows.engine.runners import TaskRunner, ThreadPoolTaskRunner
from jupyter_flows.engine.states import (
    Completed,
    Crashed,
    Failed,
    Pending,
    Retrying,
    Running,
    State,
    TimedOut,
    check_transition,
)
from jupyter_flows.engine.task import RetryDelay, check_decorator_options, retry_delays
from jupyter_flows.engine.task_run import resolve
from jupyter_flows.engine.timeouts import call_with_timeout

P = ParamSpec("P")
R = TypeVar("R")

#: Exit code of a flow-run process ended by its timeout (as coreutils' ``timeout``).
TIMEOUT_EXIT_CODE = 124

_EXACT = (int, float, str, bool, bytes)


class Flow(Generic[P, R]):
    """A function whose calls are flow runs (see ``flow``)."""

    def __init__(
        self,
        fn: Callable[P, R],
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
    ) -> None:
        check_decorator_options("flow", fn, retries, timeout_seconds)
        if task_runner is not None and not isinstance(task_runner, TaskRunner):
            raise TypeError(
                f"task_runner must be a TaskRunner instance, got {type(task_runner).__name__}"
            )
        self.fn = fn
        functools.update_wrapper(self, fn)
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
        )
        self.signature = inspect.signature(fn)
        self._hints: dict[str, Any] | None = None
        self._model: Any = None

    def with_options(self, **changes: Any) -> Flow[P, R]:
        unknown = set(changes) - set(self._options)
        if unknown:
            raise TypeError(f"unknown flow options: {', '.join(sorted(unknown))}")
        return Flow(self.fn, **{**self._options, **changes})

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return_state = bool(kwargs.pop("return_state", False))
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
            raise ParameterValidationError(
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


class _FlowRun:
    """The states of one flow run, changed only through the transition table."""

    __slots__ = ("record", "reporter", "state")

    def __init__(self, record: FlowRunRecord, reporter: Reporter) -> None:
        self.record = record
        self.reporter = reporter
        self.state: State | None = None

    def set_state(self, state: State) -> State:
        check_transition(self.state.type if self.state is not None else None, state.type)
        self.state = state
        self.reporter.state_changed(StateRecord("flow_run", self.record.id, state))
        return state


def run_flow(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    *,
    flow_run_id: str | None = None,
    flow_run_name: str | None = None,
) -> Any:
    """One flow run of ``flow`` called with ``args`` and ``kwargs``.

    ``flow_run_id``: the id of a run that exists already (a deployment's run that an agent
    claimed); by default a new one. ``flow_run_name``: that run's name, for its log lines.
    """
    configure_logging()
    parameters = flow.bind(args, kwargs)  # a bad call raises here, before any run exists
    parent = flow_run_context.get()
    parent_task = _task_run_context.get()
    reporter = parent.reporter if parent is not None else current_reporter()
    context_tags = current_tags()
    record = FlowRunRecord(
        id=flow_run_id or new_id(),
        name=flow_run_name or _run_name(),
        flow_name=flow.name,
        parameters=parameters,
        tags=sorted(flow.tags | context_tags) if flow.tags or context_tags else [],
        parent_flow_run_id=parent.flow_run.id if parent is not None else None,
        parent_task_run_id=parent_task.task_run.id if parent_task is not None else None,
        flow_version=flow.version,
    )
    reporter.flow_run_created(record)
    run = _FlowRun(record, reporter)
    run.set_state(Pending())
    logger = flow_logger(record.id, f"Flow run {record.name!r}", reporter)
    logger.info("Beginning flow run %r for flow %r", record.name, flow.name)

    if flow.validate_parameters:
        try:
            parameters = flow.validate(parameters)
        except ParameterValidationError as error:
            state = run.set_state(Failed(str(error), exception=error))
            logger.error("Finished in state Failed: %s", error)
            return _outcome(state, return_state)

    log_prints = flow.log_prints
    if log_prints is None:
        log_prints = parent.log_prints if parent is not None else False
    if log_prints:
        capture_prints()
    runner = flow.task_runner.duplicate()
    ctx = FlowRunContext(
        flow=flow,
        flow_run=record,
        reporter=reporter,
        task_runner=runner,
        log_prints=log_prints,
        persist_result=flow.persist_result,
        result_storage=flow.result_storage or (parent.result_storage if parent else None),
    )
    final: State | None = None
    try:
        final = state = _attempts(flow, run, ctx, parameters, logger)
    finally:
        runner.shutdown(wait=final is None or not final.is_timed_out())
    logger.log(
        40 if state.type.value in ("FAILED", "CRASHED", "TIMED_OUT") else 20,
        "Finished in state %s%s",
        state.name,
        f": {state.message}" if state.message else "",
    )
    if parent is None:
        reporter.flush()
        if state.is_timed_out() and RunEnv.from_environ().run_process:
            _end_process(TIMEOUT_EXIT_CODE)
    return _outcome(state, return_state)


def _attempts(
    flow: Flow[..., Any],
    run: _FlowRun,
    ctx: FlowRunContext,
    parameters: dict[str, Any],
    logger: Any,
) -> State:
    attempt = 0
    while True:
        attempt += 1
        run.set_state(Running())
        try:
            if flow.timeout_seconds is not None:
                value = call_with_timeout(
                    lambda: _body(ctx, flow, parameters),
                    flow.timeout_seconds,
                    f"flow run {ctx.flow_run.name!r}",
                )
            else:
                value = _body(ctx, flow, parameters)
            if flow.persist_result:
                ResultStore(ctx.result_storage).write(
                    f"flow-run-{ctx.flow_run.id}",
                    value,
                    expiration=None,
                    owner=f"flow {flow.name!r}",
                )
            return run.set_state(Completed(data=value))
        except RunTimedOut as error:
            return run.set_state(TimedOut(str(error), exception=error))
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            if attempt <= flow.retries and not isinstance(error, ResultPersistenceError):
                delay = flow._delays[min(attempt, len(flow._delays)) - 1]
                run.set_state(
                    Retrying(
                        f"attempt {attempt} of {flow.retries + 1} failed ({message}); "
                        f"retrying in {delay:g} s"
                    )
                )
                logger.warning("Flow run attempt %d failed: %s", attempt, message)
                if delay:
                    time.sleep(delay)
                continue
            logger.error("Flow run failed: %s", message, exc_info=error)
            return run.set_state(Failed(message, exception=error))
        except BaseException as error:  # KeyboardInterrupt, SystemExit: the run crashed
            run.set_state(Crashed(f"{type(error).__name__}: {error}", exception=error))
            raise


def _body(ctx: FlowRunContext, flow: Flow[..., Any], parameters: dict[str, Any]) -> Any:
    token = flow_run_context.set(ctx)
    task_token = _task_run_context.set(None)  # tasks of a subflow are not nested in a task
    try:
        value = _call_with_parameters(flow, parameters)
        # Futures returned by the flow are part of its result: wait for them, and fail the
        # flow if one of them failed.
        return resolve(value)
    finally:
        _task_run_context.reset(task_token)
        flow_run_context.reset(token)


def _call_with_parameters(flow: Flow[..., Any], parameters: dict[str, Any]) -> Any:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, param in flow.signature.parameters.items():
        if name not in parameters:
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(parameters[name])
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            kwargs.update(parameters[name])
        elif param.kind is inspect.Parameter.POSITIONAL_ONLY:
            args.append(parameters[name])
        else:
            kwargs[name] = parameters[name]
    return flow.fn(*args, **kwargs)


def _outcome(state: State, return_state: bool) -> Any:
    if return_state:
        return state
    if state.is_completed():
        return state.data
    error = state.result(raise_on_failure=False)
    with contextlib.suppress(AttributeError):  # exceptions with __slots__
        error.flow_run_state = state
    raise error


def _end_process(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


_ADJECTIVES = (  # fmt: skip
    "amber",
    "brave",
    "calm",
    "daring",
    "eager",
    "fancy",
    "gentle",
    "happy",
    "icy",
    "jolly",
    "keen",
    "lively",
    "merry",
    "noble",
    "olive",
    "proud",
    "quick",
    "rapid",
    "silver",
    "tidy",
    "urban",
    "vivid",
    "witty",
    "young",
    "zesty",
)
_ANIMALS = (  # fmt: skip
    "albatross",
    "badger",
    "cheetah",
    "dolphin",
    "eagle",
    "ferret",
    "gecko",
    "heron",
    "ibis",
    "jaguar",
    "koala",
    "lemur",
    "marmot",
    "narwhal",
    "otter",
    "panda",
    "quail",
    "raven",
    "salmon",
    "tapir",
    "urchin",
    "vole",
    "walrus",
    "yak",
    "zebra",
)


def _run_name() -> str:
    """A readable run name, as Prefect gives (``brave-otter``)."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}"


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
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(__fn: Any = None, **options: Any) -> Any:
    """Make a function a flow: bare (``@flow``) or with options (``@flow(retries=1)``)."""
    if __fn is not None:
        return Flow(__fn, **options)
    return lambda fn: Flow(fn, **options)
