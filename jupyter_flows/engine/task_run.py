"""One task run, from its creation to a final state.

A ``TaskCall`` is made where the task was called or submitted (``new_task_run``: its id,
name and upstream edges exist at once, and it is reported Pending) and run where the runner
puts it: inline for a direct call, awaited on the caller's event loop for an ``async``
task, on a thread, or on a Dask worker (it pickles, and ``run_on_worker`` sends its records
back with its ``RemoteResult``).

``steps()`` is the engine, the same for sync and async tasks: wait for the upstream futures
and resolve them, look up the cache, then attempts with retries until a final state. It
yields to a driver wherever the run waits (``engine.driver``): ``run()`` blocks,
``run_async()`` awaits.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.cache import ResultStore, task_input_hash
from jupyter_flows.engine.cache_policies import CacheKeyFnPolicy, NoCache
from jupyter_flows.engine.callables import format_run_name
from jupyter_flows.engine.context import (
    FlowRunContext,
    TaskRunContext,
    current_tags,
    flow_run_context,
    task_run_context,
)
from jupyter_flows.engine.driver import Call, Sleep, Steps, Wait, drive, drive_async
from jupyter_flows.engine.errors import (
    ResultPersistenceError,
    TaskRunTimeoutError,
    UpstreamTaskError,
)
from jupyter_flows.engine.futures import TaskFuture
from jupyter_flows.engine.ids import new_id
from jupyter_flows.engine.logs import RunLogger, capture_prints, configure_logging, task_logger
from jupyter_flows.engine.nested import (
    PLAIN,
    RemoteResult,
    has_containers,
    pending_futures,
    producers,
    resolve,
    swap_futures,
)
from jupyter_flows.engine.reporter import (
    MemoryReporter,
    NullReporter,
    Reporter,
    StateRecord,
    TaskRunRecord,
    current_reporter,
)
from jupyter_flows.engine.return_values import final_state, settle
from jupyter_flows.engine.states import (
    TRANSITIONS,
    Cached,
    Crashed,
    Failed,
    Pending,
    Retrying,
    Running,
    State,
    TimedOut,
    check_transition,
)
from jupyter_flows.engine.worker_env import borrowed_environ

if TYPE_CHECKING:
    from jupyter_flows.engine.task import Task


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
    if task.task_run_name is not None:
        parameters = _bind(task, args, kwargs)
        name = format_run_name(task.task_run_name, parameters, f"task {task.name!r}")
    elif flow_ctx is not None:
        name = flow_ctx.next_task_run_name(task.name)
    else:
        name = f"{task.name}-{run_id[-8:]}"
    waits = list(wait_for) if wait_for else []
    context_tags = current_tags()
    record = TaskRunRecord(
        id=run_id,
        name=name,
        task_key=task.task_key,
        flow_run_id=flow_run_id,
        task_inputs=_upstream(task, args, kwargs, waits, flow_ctx),
        tags=sorted(task.tags | context_tags) if task.tags or context_tags else [],
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
    """Parameter name -> ids of the task runs whose results it receives (at any depth)."""
    inputs: dict[str, list[str]] = {}
    names: list[str] | None = None
    for i, value in enumerate(args):
        if type(value) in PLAIN:
            continue
        ids = producers(value, flow_ctx)
        if ids:
            if names is None:
                names = _positional_names(task.signature)
            inputs[names[i] if i < len(names) else names[-1]] = ids
    for key, value in kwargs.items():
        if type(value) not in PLAIN:
            ids = producers(value, flow_ctx)
            if ids:
                inputs[key] = ids
    if wait_for:
        ids = producers(wait_for, flow_ctx)
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
        #: A state the function returned: a direct call hands it back as is (as Prefect).
        self.returned_state: State | None = None

    def live_state(self) -> State:
        """The last state this process knows (a TaskFuture's ``state`` before it is final)."""
        assert self.state is not None, "a task run has a state from its creation"
        return self.state

    # -- for remote runners ---------------------------------------------------------------
    def remote_arguments(
        self, native: Callable[[TaskFuture[Any]], Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any], list[Any]]:
        """Arguments with each TaskFuture replaced by the runner's own future for it."""
        return (
            swap_futures(self.args, native),
            swap_futures(self.kwargs, native),
            swap_futures(self.wait_for, native),
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
        previous = self.state
        if previous is None or state.type not in TRANSITIONS[previous.type]:  # raises
            check_transition(previous.type if previous is not None else None, state.type)
        run_id = state.run_id = self.record.id
        self.state = state
        self.reporter.state_changed(StateRecord("task_run", run_id, state))
        return state

    def run(self) -> State:
        """Take this run from Pending to a final state; never raises for the task's errors."""
        return drive(self.steps())

    async def run_async(self) -> State:
        """``run()`` on the running event loop: the task's ``await``s let others run."""
        return await drive_async(self.steps())

    def steps(self) -> Steps[State]:
        """The run, as steps a driver performs (see ``engine.driver``)."""
        task = self.task
        args, kwargs = self.args, self.kwargs
        try:
            if self.wait_for or has_containers(args) or has_containers(kwargs.values()):
                running = pending_futures((args, kwargs, self.wait_for))
                if running:
                    yield Wait(running)
                args = resolve(args)
                kwargs = resolve(kwargs)
                if self.wait_for:
                    resolve(self.wait_for)
        except UpstreamTaskError as error:
            self.logger().error("Not run: %s", error)
            return self.set_state(Failed(str(error), name="NotReady", exception=error))

        ctx = TaskRunContext(
            task, self.record, self.reporter, self.log_prints, {}, is_async=task.kind.is_async
        )
        cache_key, store = None, None
        policy = task.key_policy
        if policy is not None or self.persist_result:
            store = ResultStore(self.result_storage)
            ctx.parameters = _bind(task, args, kwargs)
            if not isinstance(policy, NoCache):
                cache_key = self._cache_key(ctx)
            self.record.cache_key = cache_key
            if cache_key is not None and not task.refresh_cache:
                found, value = store.read(cache_key)
                if found:
                    self.logger().info("Finished in state Cached (cache key %s)", cache_key[:16])
                    return self._completed(Cached(data=value), value)

        attempt = 0
        while True:
            attempt += 1
            ctx.attempt = attempt
            self.set_state(Running())
            retry_delay: float | None = None
            call = Call(
                task.fn,
                args,
                kwargs,
                task.kind.is_async,
                task.timeout_seconds,
                TaskRunTimeoutError,
                self.record.name,
                settle,
            )
            token = task_run_context.set(ctx)
            try:
                value = yield call
                state = final_state(value)
                if store is not None and state.is_completed():
                    store.write(
                        cache_key or f"task-run-{self.record.id}",
                        state.data,
                        expiration=task.cache_expiration,
                        owner=f"task {task.name!r}",
                    )
            except Exception as error:
                retry_delay = self._retry_delay(error, attempt)
                if retry_delay is None:
                    final = self._failed(error, timed_out=error is call.expired)
                    self.logger().error(
                        "Finished in state %s: %s",
                        final.name,
                        final.message,
                        exc_info=not isinstance(error, ResultPersistenceError),
                    )
                    return final
            except BaseException as error:  # KeyboardInterrupt, SystemExit: the run crashed
                self.set_state(Crashed(f"{type(error).__name__}: {error}", exception=error))
                raise
            finally:
                task_run_context.reset(token)
            if retry_delay is not None:
                if retry_delay:
                    yield Sleep(retry_delay)
                continue
            if isinstance(value, State):
                self.returned_state = value
            if not state.is_completed():
                self.logger().error("Finished in state %s: %s", state.name, state.message)
            return self._completed(state, value)

    def logger(self) -> RunLogger:
        """The run's logger, made when the run logs (most runs log nothing of their own)."""
        return task_logger(
            self.record.flow_run_id, self.record.id, f"Task run {self.record.name!r}", self.reporter
        )

    def _completed(self, state: State, value: Any) -> State:
        flow_ctx = flow_run_context.get()
        if flow_ctx is not None and flow_ctx.flow_run.id == self.record.flow_run_id:
            flow_ctx.remember_result(value, self.record.id)
        return self.set_state(state)

    def _retry_delay(self, error: Exception, attempt: int) -> float | None:
        """Seconds to wait before the next attempt (the run is Retrying), or None: no retry."""
        task = self.task
        if attempt > task.retries or isinstance(error, ResultPersistenceError):
            return None
        message = f"{type(error).__name__}: {error}"
        condition = task.retry_condition_fn
        if condition is not None and not condition(
            task, self.record, Failed(message, exception=error)
        ):
            return None
        delay = task.retry_delay(attempt)
        retrying = self.set_state(
            Retrying(
                f"attempt {attempt} of {task.retries + 1} failed ({message}); "
                f"retrying in {delay:g} s"
            )
        )
        self.logger().warning("%s", retrying.message)
        return delay

    def _failed(self, error: Exception, timed_out: bool) -> State:
        if timed_out:
            return self.set_state(TimedOut(str(error), exception=error))
        return self.set_state(Failed(f"{type(error).__name__}: {error}", exception=error))

    def _cache_key(self, ctx: TaskRunContext) -> str | None:
        policy = self.task.key_policy
        try:
            if policy is None:
                return task_input_hash(ctx, ctx.parameters)
            flow_ctx = flow_run_context.get()
            flow_parameters = (
                flow_ctx.flow_run.parameters
                if flow_ctx is not None and flow_ctx.flow_run.id == self.record.flow_run_id
                else {}
            )
            return policy.compute_key(ctx, ctx.parameters, flow_parameters)
        except Exception as error:
            raised = "cache_key_fn raised " if isinstance(policy, CacheKeyFnPolicy) else ""
            self.logger().warning("Not caching: %s%s: %s", raised, type(error).__name__, error)
            return None


def _bind(task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = task.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def run_on_worker(
    call: TaskCall,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    wait_for: list[Any],
    credentials: Mapping[str, str] | None = None,
) -> RemoteResult:
    """Run a task on a remote worker; its records travel back with the result.

    Dask has already replaced upstream futures by their ``RemoteResult``s. ``credentials``:
    the run's credential variables, for a worker that did not inherit them
    (``engine/worker_env.py``).
    """
    configure_logging()  # a worker process has not run a flow yet
    records = MemoryReporter()
    call.args, call.kwargs, call.wait_for = args, kwargs, wait_for
    call.reporter = records
    with borrowed_environ(credentials or {}):
        state = call.run()
    # The exception's traceback and the value stay in the state; both must pickle back.
    return RemoteResult(call.record.id, call.record.name, state, records)
