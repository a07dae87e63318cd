"""One task run, from its creation to a final state.

A ``TaskCall`` is made where the task was called or submitted (``new_task_run``: its id,
name and upstream edges exist at once, and it is reported Pending) and run where the runner
puts it: inline for a direct call, on a thread, or on a Dask worker (it pickles, and
``run_on_worker`` sends its records back with its ``RemoteResult``). ``run()`` resolves the
upstream futures, looks up the cache, then runs attempts with retries until a final state.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.cache import ResultStore, task_input_hash
from jupyter_flows.engine.context import (
    FlowRunContext,
    TaskRunContext,
    current_tags,
    flow_run_context,
    task_run_context,
)
from jupyter_flows.engine.errors import ResultPersistenceError, RunTimedOut, UpstreamTaskError
from jupyter_flows.engine.futures import TaskFuture, allow_failure, unmapped
from jupyter_flows.engine.ids import new_id
from jupyter_flows.engine.logs import capture_prints, configure_logging, task_logger
from jupyter_flows.engine.reporter import (
    MemoryReporter,
    NullReporter,
    Reporter,
    StateRecord,
    TaskRunRecord,
    current_reporter,
)
from jupyter_flows.engine.states import (
    Cached,
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
from jupyter_flows.engine.timeouts import call_with_timeout

if TYPE_CHECKING:
    from jupyter_flows.engine.task import Task

#: Argument types that can never hold a future: checked first, to keep direct calls cheap.
_PLAIN = frozenset({int, float, str, bool, bytes, type(None), complex})


def new_task_run(
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: Iterable[Any] | None,
) -> TaskCall:
    """A run of ``task`` with these arguments, reported and Pending, in the current flow run
    (or task run, or neither)."""
    configure_logging()
    flow_ctx = flow_run_context.get()
    parent_task = task_run_context.get()
    if flow_ctx is not None:
        reporter: Reporter = flow_ctx.reporter
        flow_run_id: str | None = flow_ctx.flow_run.id
        log_prints = flow_ctx.log_prints if task.log_prints is None else task.log_prints
        persist_default = flow_ctx.persist_result
        storage = task.result_storage or flow_ctx.result_storage
    elif parent_task is not None:  # a task called by a task, e.g. on a Dask worker
        reporter = parent_task.reporter
        flow_run_id = parent_task.task_run.flow_run_id
        log_prints = bool(task.log_prints)
        persist_default, storage = None, task.result_storage
    else:
        reporter, flow_run_id = current_reporter(), None
        log_prints, persist_default, storage = bool(task.log_prints), None, task.result_storage
    run_id = new_id()
    name = (
        flow_ctx.next_task_run_name(task.name)
        if flow_ctx is not None
        else f"{task.name}-{run_id[-8:]}"
    )
    waits = list(wait_for) if wait_for else []
    record = TaskRunRecord(
        id=run_id,
        name=name,
        task_key=task.task_key,
        flow_run_id=flow_run_id,
        task_inputs=_upstream(task, args, kwargs, waits, flow_ctx),
        tags=sorted(task.tags | current_tags()) if task.tags or current_tags() else [],
    )
    reporter.task_run_created(record)
    persist = task.persist_result
    if persist is None:
        persist = persist_default if persist_default is not None else False
    if log_prints:
        capture_prints()
    call = TaskCall(task, record, args, kwargs, waits, reporter, log_prints, persist, storage)
    call.set_state(Pending())
    return call


def _upstream(
    task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: list[Any],
    flow_ctx: FlowRunContext | None,
) -> dict[str, list[str]]:
    """Parameter name -> ids of the task runs whose results it receives."""
    inputs: dict[str, list[str]] = {}
    names: list[str] | None = None
    for i, value in enumerate(args):
        if type(value) in _PLAIN:
            continue
        ids = _producers(value, flow_ctx)
        if ids:
            if names is None:
                names = _positional_names(task.signature)
            inputs[names[i] if i < len(names) else names[-1]] = ids
    for key, value in kwargs.items():
        if type(value) not in _PLAIN:
            ids = _producers(value, flow_ctx)
            if ids:
                inputs[key] = ids
    if wait_for:
        ids = _producers(wait_for, flow_ctx)
        if ids:
            inputs["wait_for"] = ids
    return inputs


def _positional_names(signature: inspect.Signature) -> list[str]:
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind
        in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.VAR_POSITIONAL,
        )
    ] or ["args"]


def _producers(value: Any, flow_ctx: FlowRunContext | None) -> list[str]:
    """Ids of the task runs that produced ``value`` or the futures inside it."""
    found: list[str] = []
    _visit_producers(value, flow_ctx, found)
    return found


def _visit_producers(value: Any, flow_ctx: FlowRunContext | None, found: list[str]) -> None:
    kind = type(value)
    if kind in _PLAIN:
        return
    if kind is TaskFuture:
        found.append(value.task_run_id)
        return
    if flow_ctx is not None:
        producer = flow_ctx.producer_of(value)
        if producer is not None:
            found.append(producer)
            return
    if kind is allow_failure or kind is unmapped:
        _visit_producers(value.value, flow_ctx, found)
    elif kind in (list, tuple, set, frozenset):
        for item in value:
            _visit_producers(item, flow_ctx, found)
    elif kind is dict:
        for item in value.values():
            _visit_producers(item, flow_ctx, found)


class RemoteResult:
    """What a task run on a Dask worker sends back: its final state and its records."""

    __slots__ = ("task_run_id", "task_run_name", "state", "records")

    def __init__(self, call: TaskCall, state: State, records: MemoryReporter) -> None:
        self.task_run_id = call.record.id
        self.task_run_name = call.record.name
        self.state = state
        self.records = records


def resolve(value: Any) -> Any:
    """``value`` with every future (or upstream result) inside it replaced by its result.

    Raises UpstreamTaskError for an upstream run that did not complete, unless it is
    wrapped in ``allow_failure``, which passes on its exception instead.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is TaskFuture or kind is RemoteResult:
        state = value.state if kind is RemoteResult else _wait(value)
        if state.is_completed():
            return state.data
        if state.name == "NotReady" and state.message:
            raise UpstreamTaskError(state.message)  # the first failed ancestor, named once
        raise UpstreamTaskError(
            f"upstream task run {value.task_run_name!r} ended {state.name}"
            + (f": {state.message}" if state.message else "")
        )
    if kind is allow_failure:
        inner = value.value
        if type(inner) is TaskFuture or type(inner) is RemoteResult:
            state = inner.state if isinstance(inner, RemoteResult) else _wait(inner)
            return state.data if state.is_completed() else state.result(raise_on_failure=False)
        return resolve(inner)
    if kind is unmapped:
        return resolve(value.value)
    if kind in (list, tuple, set, frozenset):
        return kind(resolve(item) for item in value)
    if kind is dict:
        return {key: resolve(item) for key, item in value.items()}
    return value


def _wait(future: TaskFuture[Any]) -> State:
    future.wait()
    return future.state


def _has_futures(values: Iterable[Any]) -> bool:
    return any(type(v) not in _PLAIN for v in values)


class TaskCall:
    """One task run: its record, its arguments, and the code that takes it to a final state."""

    def __init__(
        self,
        task: Task[..., Any],
        record: TaskRunRecord,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: list[Any],
        reporter: Reporter,
        log_prints: bool,
        persist_result: bool,
        result_storage: str | None,
    ) -> None:
        self.task = task
        self.record = record
        self.args = args
        self.kwargs = kwargs
        self.wait_for = wait_for
        self.reporter = reporter
        self.log_prints = log_prints
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.state: State | None = None

    def live_state(self) -> State:
        """The last state this process knows (a TaskFuture's ``state`` before it is final)."""
        assert self.state is not None, "a task run has a state from its creation"
        return self.state

    # -- for remote runners ---------------------------------------------------------------
    def remote_arguments(
        self, native: Callable[[TaskFuture[Any]], Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any], list[Any]]:
        """Arguments with each TaskFuture replaced by the runner's own future for it."""

        def swap(value: Any) -> Any:
            kind = type(value)
            if kind is TaskFuture:
                handle = native(value)
                return handle if handle is not None else value.result()
            if kind is allow_failure:
                return allow_failure(swap(value.value))
            if kind in (list, tuple, set, frozenset):
                return kind(swap(v) for v in value)
            if kind is dict:
                return {k: swap(v) for k, v in value.items()}
            return value

        return (
            tuple(swap(a) for a in self.args),
            {k: swap(v) for k, v in self.kwargs.items()},
            [swap(w) for w in self.wait_for],
        )

    def without_arguments(self) -> TaskCall:
        """A copy to ship to a worker: no arguments (they travel apart, as the runner's own
        futures) and no reporter (the worker records into its own; shipping the flow's
        reporter would copy every record made so far with every task)."""
        bare = TaskCall(
            self.task,
            self.record,
            (),
            {},
            [],
            NullReporter(),
            self.log_prints,
            self.persist_result,
            self.result_storage,
        )
        bare.state = self.state
        return bare

    # -- the engine -----------------------------------------------------------------------
    def set_state(self, state: State) -> State:
        check_transition(self.state.type if self.state is not None else None, state.type)
        self.state = state
        self.reporter.state_changed(StateRecord("task_run", self.record.id, state))
        return state

    def run(self) -> State:
        """Take this run from Pending to a final state; never raises for the task's errors."""
        task = self.task
        logger = task_logger(
            self.record.flow_run_id, self.record.id, f"Task run {self.record.name!r}", self.reporter
        )
        try:
            args, kwargs = self.args, self.kwargs
            if _has_futures(args) or _has_futures(kwargs.values()):
                args = resolve(args)
                kwargs = resolve(kwargs)
            if self.wait_for:
                resolve(self.wait_for)
        except UpstreamTaskError as error:
            logger.error("Not run: %s", error)
            return self.set_state(Failed(str(error), name="NotReady", exception=error))

        ctx = TaskRunContext(task, self.record, self.reporter, self.log_prints, {})
        cache_key, store = None, None
        if task.cache_key_fn is not None or self.persist_result:
            store = ResultStore(self.result_storage)
            ctx.parameters = _bind(task, args, kwargs)
            cache_key = self._cache_key(ctx, logger)
            self.record.cache_key = cache_key
            if cache_key is not None and not task.refresh_cache:
                found, value = store.read(cache_key)
                if found:
                    logger.info("Finished in state Cached (cache key %s)", cache_key[:16])
                    return self._completed(Cached(data=value), value)

        attempt = 0
        while True:
            attempt += 1
            ctx.attempt = attempt
            self.set_state(Running())
            try:
                if task.timeout_seconds is not None:
                    value = call_with_timeout(
                        lambda: _call_in_context(ctx, task.fn, args, kwargs),
                        task.timeout_seconds,
                        f"task run {self.record.name!r}",
                    )
                else:
                    value = _call_in_context(ctx, task.fn, args, kwargs)
                if store is not None:
                    store.write(
                        cache_key or f"task-run-{self.record.id}",
                        value,
                        expiration=task.cache_expiration,
                        owner=f"task {task.name!r}",
                    )
            except Exception as error:
                final = self._failed(error, attempt)
                if final is None:
                    continue
                logger.error(
                    "Finished in state %s: %s",
                    final.name,
                    final.message,
                    exc_info=not isinstance(error, ResultPersistenceError),
                )
                return final
            except BaseException as error:  # KeyboardInterrupt, SystemExit: the run crashed
                self.set_state(Crashed(f"{type(error).__name__}: {error}", exception=error))
                raise
            return self._completed(Completed(data=value), value)

    def _completed(self, state: State, value: Any) -> State:
        flow_ctx = flow_run_context.get()
        if flow_ctx is not None and flow_ctx.flow_run.id == self.record.flow_run_id:
            flow_ctx.remember_result(value, self.record.id)
        return self.set_state(state)

    def _failed(self, error: Exception, attempt: int) -> State | None:
        """The final state for this error, or None (after the delay) to run again."""
        task = self.task
        timed_out = isinstance(error, RunTimedOut)
        message = f"{type(error).__name__}: {error}"
        if attempt <= task.retries and not isinstance(error, ResultPersistenceError):
            failed = Failed(message, exception=error)
            condition = task.retry_condition_fn
            if condition is None or condition(task, self.record, failed):
                delay = task.retry_delay(attempt)
                retrying = self.set_state(
                    Retrying(
                        f"attempt {attempt} of {task.retries + 1} failed ({message}); "
                        f"retrying in {delay:g} s"
                    )
                )
                task_logger(
                    self.record.flow_run_id,
                    self.record.id,
                    f"Task run {self.record.name!r}",
                    self.reporter,
                ).warning("%s", retrying.message)
                if delay:
                    time.sleep(delay)
                return None
        if timed_out:
            return self.set_state(TimedOut(str(error), exception=error))
        return self.set_state(Failed(message, exception=error))

    def _cache_key(self, ctx: TaskRunContext, logger: Any) -> str | None:
        key_fn = self.task.cache_key_fn or task_input_hash
        try:
            return key_fn(ctx, ctx.parameters)
        except Exception as error:
            logger.warning("Not caching: cache_key_fn raised %s: %s", type(error).__name__, error)
            return None


def _bind(task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = task.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _call_in_context(
    ctx: TaskRunContext, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    token = task_run_context.set(ctx)
    try:
        return fn(*args, **kwargs)
    finally:
        task_run_context.reset(token)


def run_on_worker(
    call: TaskCall, args: tuple[Any, ...], kwargs: dict[str, Any], wait_for: list[Any]
) -> RemoteResult:
    """Run a task on a remote worker; its records travel back with the result.

    Dask has already replaced upstream futures by their ``RemoteResult``s.
    """
    configure_logging()  # a worker process has not run a flow yet
    records = MemoryReporter()
    call.args, call.kwargs, call.wait_for = args, kwargs, wait_for
    call.reporter = records
    state = call.run()
    # The exception's traceback and the value stay in the state; both must pickle back.
    return RemoteResult(call, state, records)
