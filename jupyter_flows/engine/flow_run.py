"""One flow run, from Pending to a final state.

``flow_steps`` is the engine, the same for every kind of flow function: bind and report,
validate the parameters, then attempts of the body with retries, a timeout and result
persistence until a final state. It yields to a driver wherever the run waits
(``engine.driver``), so one engine serves the three ways a flow is called:

- ``run_flow``: blocks until the end (a sync flow; an ``async def`` flow called from sync
  code runs on an event loop of its own);
- ``run_flow_async``: a coroutine, for an ``async def`` flow called from async code or at top
  level (``asyncio.run(my_flow())``, ``await my_flow()``);
- ``stream_flow``: a generator flow (a function that ``yield``s) returns a generator, or an
  async generator, that runs the flow as the caller iterates, as Prefect 3 does.

A flow that runs in a process of its own (``JUPYTER_FLOWS_RUN_PROCESS=1``, which agents set)
ends that process when it times out, after reporting TimedOut: threads that Python cannot
stop do not outlive their run. In a notebook or script the run is marked TimedOut and its
caller gets ``FlowRunTimeoutError``; see ``engine.timeouts`` for what happens to the work.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import random
import sys
from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.cache import ResultStore
from jupyter_flows.engine.callables import format_run_name
from jupyter_flows.engine.context import FlowRunContext, current_tags, flow_run_context
from jupyter_flows.engine.context import task_run_context as _task_run_context
from jupyter_flows.engine.driver import (
    Call,
    Sleep,
    Steps,
    Wait,
    drive,
    drive_async,
    drive_async_stream,
    drive_stream,
)
from jupyter_flows.engine.errors import (
    FlowRunTimeoutError,
    ParameterValidationError,
    ResultPersistenceError,
    UpstreamTaskError,
)
from jupyter_flows.engine.ids import new_id
from jupyter_flows.engine.logs import (
    RunLogger,
    capture_prints,
    configure_logging,
    engine_line,
    flow_logger,
)
from jupyter_flows.engine.nested import has_containers, map_futures, pending_futures, resolve
from jupyter_flows.engine.reporter import FlowRunRecord, Reporter, StateRecord, current_reporter
from jupyter_flows.engine.return_values import final_state, settle
from jupyter_flows.engine.run_env import RunEnv
from jupyter_flows.engine.states import (
    Crashed,
    Failed,
    Pending,
    Retrying,
    Running,
    State,
    TimedOut,
    check_transition,
)

if TYPE_CHECKING:
    from jupyter_flows.engine.flow import Flow

#: Exit code of a flow-run process ended by its timeout (as coreutils' ``timeout``).
TIMEOUT_EXIT_CODE = 124


def run_flow(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    *,
    flow_run_id: str | None = None,
    flow_run_name: str | None = None,
) -> Any:
    """One flow run of ``flow`` called with ``args`` and ``kwargs``, to its end.

    ``flow_run_id``: the id of a run that exists already (a deployment's run that an agent
    claimed); by default a new one. ``flow_run_name``: that run's name, for its log lines.
    """
    state = drive(flow_steps(flow, args, kwargs, flow_run_id, flow_run_name))
    return outcome(state, return_state)


async def run_flow_async(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    return_state: bool,
    *,
    flow_run_id: str | None = None,
    flow_run_name: str | None = None,
) -> Any:
    """``run_flow`` on the running event loop."""
    state = await drive_async(flow_steps(flow, args, kwargs, flow_run_id, flow_run_name))
    return outcome(state, return_state)


def stream_flow(
    flow: Flow[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Generator[Any, None, Any] | AsyncGenerator[Any, None]:
    """The run of a generator flow, as a generator of what the flow yields.

    The run starts with the first value asked for and completes when the function returns
    (its return value is the run's result) or the caller stops iterating; a failed run
    raises its error where the iteration stops.
    """
    steps = flow_steps(flow, args, kwargs, None, None)
    if flow.kind.is_async:
        return drive_async_stream(steps, lambda state: outcome(state, False))
    return _stream(steps)


def _stream(steps: Steps[State]) -> Generator[Any, None, Any]:
    state = yield from drive_stream(steps)
    return outcome(state, False)


def outcome(state: State, return_state: bool) -> Any:
    """What the caller of a flow gets: its state, its value, or its error raised."""
    if return_state:
        return state
    if state.is_completed():
        return state.data
    error = state.result(raise_on_failure=False)
    with contextlib.suppress(AttributeError):  # exceptions with __slots__
        error.flow_run_state = state
    raise error


class _FlowRun:
    """The states of one flow run, changed only through the transition table."""

    __slots__ = ("record", "reporter", "state")

    def __init__(self, record: FlowRunRecord, reporter: Reporter) -> None:
        self.record = record
        self.reporter = reporter
        self.state: State | None = None

    def set_state(self, state: State) -> State:
        check_transition(self.state.type if self.state is not None else None, state.type)
        state.run_id = self.record.id
        self.state = state
        self.reporter.state_changed(StateRecord("flow_run", self.record.id, state))
        return state


def flow_steps(
    flow: Flow[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flow_run_id: str | None,
    flow_run_name: str | None,
) -> Steps[State]:
    """The flow run, as steps a driver performs (see ``engine.driver``)."""
    configure_logging()
    parameters = flow.bind(args, kwargs)  # a bad call raises here, before any run exists
    upstream_error: UpstreamTaskError | None = None
    if has_containers(parameters.values()):  # futures passed in are data for the flow
        running = pending_futures(parameters)
        if running:
            yield Wait(running)
        try:
            parameters = resolve(parameters)
        except UpstreamTaskError as error:
            upstream_error = error
            parameters = map_futures(parameters, lambda f: f"<{f.task_run_name}: {f.state.name}>")
    parent = flow_run_context.get()
    parent_task = _task_run_context.get()
    reporter = parent.reporter if parent is not None else current_reporter()
    context_tags = current_tags()
    bound = flow.bound_parameter(flow.signature)
    reported = {k: v for k, v in parameters.items() if k != bound} if bound else parameters
    if flow_run_name is None and flow.flow_run_name is not None:
        flow_run_name = format_run_name(flow.flow_run_name, reported, f"flow {flow.name!r}")
    record = FlowRunRecord(
        id=flow_run_id or new_id(),
        name=flow_run_name or _run_name(),
        flow_name=flow.name,
        parameters=reported,
        tags=sorted(flow.tags | context_tags) if flow.tags or context_tags else [],
        parent_flow_run_id=parent.flow_run.id if parent is not None else None,
        parent_task_run_id=parent_task.task_run.id if parent_task is not None else None,
        flow_version=flow.version,
    )
    reporter.flow_run_created(record)
    run = _FlowRun(record, reporter)
    run.set_state(Pending())
    logger = flow_logger(record.id, f"Flow run {record.name!r}", reporter)
    engine_line(logger, 20, "Beginning flow run %r for flow %r", record.name, flow.name)

    if upstream_error is not None:
        logger.error("Not run: %s", upstream_error)
        return run.set_state(Failed(str(upstream_error), name="NotReady", exception=upstream_error))

    if flow.validate_parameters:
        try:
            parameters = flow.validate(parameters)
        except ParameterValidationError as error:
            state = run.set_state(Failed(str(error), exception=error))
            logger.error("Finished in state Failed: %s", error)
            return state

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
        is_async=flow.kind.is_async,
    )
    final: State | None = None
    try:
        final = state = yield from _attempts(flow, run, ctx, parameters, logger)
    finally:
        runner.shutdown(wait=final is None or not final.is_timed_out())
    engine_line(
        logger,
        40 if state.type.value in ("FAILED", "CRASHED", "TIMED_OUT") else 20,
        "Finished in state %s%s",
        state.name,
        f": {state.message}" if state.message else "",
    )
    if parent is None:
        reporter.flush()
        if state.is_timed_out() and RunEnv.from_environ().run_process:
            _end_process(TIMEOUT_EXIT_CODE)
    return state


def _attempts(
    flow: Flow[..., Any],
    run: _FlowRun,
    ctx: FlowRunContext,
    parameters: dict[str, Any],
    logger: RunLogger,
) -> Steps[State]:
    args, kwargs = _call_arguments(flow, parameters)
    attempt = 0
    while True:
        attempt += 1
        run.set_state(Running())
        retry_delay: float | None = None
        call = Call(
            flow.fn,
            args,
            kwargs,
            flow.kind.is_async,
            flow.timeout_seconds,
            FlowRunTimeoutError,
            ctx.flow_run.name,
            _settled_result,
        )
        token = flow_run_context.set(ctx)
        task_token = _task_run_context.set(None)  # tasks of a subflow are not nested in a task
        try:
            value = yield call
            state = final_state(value)
            if flow.persist_result and state.is_completed():
                ResultStore(ctx.result_storage).write(
                    f"flow-run-{ctx.flow_run.id}",
                    state.data,
                    expiration=None,
                    owner=f"flow {flow.name!r}",
                )
        except Exception as error:
            if error is call.expired:
                return run.set_state(TimedOut(str(error), exception=error))
            message = f"{type(error).__name__}: {error}"
            if attempt > flow.retries or isinstance(error, ResultPersistenceError):
                logger.error("Flow run failed: %s", message, exc_info=error)
                return run.set_state(Failed(message, exception=error))
            retry_delay = flow._delays[min(attempt, len(flow._delays)) - 1]
            run.set_state(
                Retrying(
                    f"attempt {attempt} of {flow.retries + 1} failed ({message}); "
                    f"retrying in {retry_delay:g} s"
                )
            )
            logger.warning("Flow run attempt %d failed: %s", attempt, message)
        except BaseException as error:  # KeyboardInterrupt, SystemExit: the run crashed
            run.set_state(Crashed(f"{type(error).__name__}: {error}", exception=error))
            raise
        finally:
            _task_run_context.reset(task_token)
            flow_run_context.reset(token)
        if retry_delay is not None:
            if retry_delay:
                yield Sleep(retry_delay)
            continue
        return run.set_state(state)


def _settled_result(value: Any) -> Any:
    """A flow's return value with generators consumed and futures resolved: waiting for the
    futures it returns is part of the flow (a failed one fails it), under its timeout."""
    return resolve(settle(value))


def _call_arguments(
    flow: Flow[..., Any], parameters: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
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
    return tuple(args), kwargs


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
