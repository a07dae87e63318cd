"""@task and the task engine: one task run from Pending to a final state.

A ``TaskCall`` is one task run, made where the task was called or submitted (so its id,
name and upstream edges are known at once) and run where the runner puts it: inline for a
direct call, on a thread, or on a Dask worker (it pickles).
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from jupyter_flows.engine.cache import CacheKeyFn, ResultStore, code_hash, task_input_hash
from jupyter_flows.engine.context import (
    FlowRunContext,
    TaskRunContext,
    current_tags,
    flow_run_context,
    task_run_context,
)
from jupyter_flows.engine.errors import (
    MappingError,
    ResultPersistenceError,
    RunTimedOut,
    UpstreamTaskError,
)
from jupyter_flows.engine.futures import FutureList, TaskFuture, allow_failure, unmapped
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
    from jupyter_flows.engine.runners import TaskRunner

P = ParamSpec("P")
R = TypeVar("R")

RetryDelay = float | list[float] | Callable[[int], list[float]]
RetryConditionFn = Callable[["Task[..., Any]", TaskRunRecord, State], bool]

#: Argument types that can never hold a future: checked first, to keep direct calls cheap.
_PLAIN = frozenset({int, float, str, bool, bytes, type(None), complex})


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """Retry delays of factor, 2·factor, 4·factor, … (``retry_delay_seconds=`` this)."""

    def delays(retries: int) -> list[float]:
        return [backoff_factor * 2**attempt for attempt in range(retries)]

    return delays


def retry_delays(spec: RetryDelay, retries: int) -> list[float]:
    """The delay before each retry: a number for all, a list (its last item repeats), or a
    callable given the number of retries."""
    if callable(spec):
        delays = list(spec(retries)) if retries > 0 else []
    elif isinstance(spec, (int, float)):
        delays = [float(spec)] * max(retries, 1)
    else:
        delays = [float(d) for d in spec]
    if any(d < 0 for d in delays):
        raise ValueError(f"retry delays must not be negative, got {delays}")
    if retries <= 0:
        return []
    if not delays:
        return [0.0] * retries
    return (delays + [delays[-1]] * retries)[:retries]


def check_decorator_options(
    kind: str, fn: Any, retries: object, timeout_seconds: float | None
) -> None:
    """The checks @flow and @task share: a sync function, whole retries, a positive timeout."""
    if not callable(fn):
        raise TypeError(f"@{kind} needs a function, got {type(fn).__name__}")
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"@{kind} {fn.__name__!r}: async {kind}s are not supported yet")
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number >= 0, got {retries!r}")
    if timeout_seconds is not None and timeout_seconds <= 0:
        raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds!r}")


class Task(Generic[P, R]):
    """A function whose calls inside a flow become task runs (see ``task``)."""

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
        retry_jitter_factor: float | None = None,
        retry_condition_fn: RetryConditionFn | None = None,
        timeout_seconds: float | None = None,
        log_prints: bool | None = None,
        cache_key_fn: CacheKeyFn | None = None,
        cache_expiration: timedelta | None = None,
        persist_result: bool | None = None,
        result_storage: str | None = None,
        refresh_cache: bool | None = None,
    ) -> None:
        check_decorator_options("task", fn, retries, timeout_seconds)
        if retry_jitter_factor is not None and retry_jitter_factor < 0:
            raise ValueError(f"retry_jitter_factor must be >= 0, got {retry_jitter_factor!r}")
        self.fn = fn
        functools.update_wrapper(self, fn)
        self.name = name or fn.__name__
        self.description = description or inspect.getdoc(fn)
        self.version = version
        self.tags = frozenset(tags or ())
        self.retries = retries
        self.retry_delay_seconds = retry_delay_seconds
        self.retry_jitter_factor = retry_jitter_factor
        self.retry_condition_fn = retry_condition_fn
        self.timeout_seconds = timeout_seconds
        self.log_prints = log_prints
        self.cache_key_fn = cache_key_fn
        self.cache_expiration = cache_expiration
        self.persist_result = persist_result
        self.result_storage = result_storage
        self.refresh_cache = refresh_cache
        self.task_key = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', self.name)}"
        self._delays = retry_delays(retry_delay_seconds, retries)  # validates now
        self._options = dict(
            name=name,
            description=description,
            version=version,
            tags=tags,
            retries=retries,
            retry_delay_seconds=retry_delay_seconds,
            retry_jitter_factor=retry_jitter_factor,
            retry_condition_fn=retry_condition_fn,
            timeout_seconds=timeout_seconds,
            log_prints=log_prints,
            cache_key_fn=cache_key_fn,
            cache_expiration=cache_expiration,
            persist_result=persist_result,
            result_storage=result_storage,
            refresh_cache=refresh_cache,
        )
        self._signature: inspect.Signature | None = None
        self._code_hash: str | None = None

    # -- introspection, computed once and only when needed ------------------------------
    @property
    def signature(self) -> inspect.Signature:
        if self._signature is None:
            self._signature = inspect.signature(self.fn)
        return self._signature

    @property
    def code_hash(self) -> str:
        if self._code_hash is None:
            self._code_hash = code_hash(self.fn)
        return self._code_hash

    def with_options(self, **changes: Any) -> Task[P, R]:
        """A copy of this task with some options changed (as in Prefect)."""
        unknown = set(changes) - set(self._options)
        if unknown:
            raise TypeError(f"unknown task options: {', '.join(sorted(unknown))}")
        return Task(self.fn, **{**self._options, **changes})

    def retry_delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based), jitter included."""
        delay = self._delays[min(retry_number, len(self._delays)) - 1] if self._delays else 0.0
        if self.retry_jitter_factor:
            delay *= 1 + random.uniform(0, self.retry_jitter_factor)
        return delay

    # -- the three ways to run a task ----------------------------------------------------
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        call = self._new_call(args, kwargs, wait_for)  # type: ignore[arg-type]
        state = call.run()
        if return_state:
            return state  # type: ignore[return-value]
        return state.result()  # type: ignore[no-any-return]

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task on the flow's task runner; returns a TaskFuture at once."""
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        call = self._new_call(args, kwargs, wait_for)
        future: TaskFuture[R] = _runner_for_submit().submit(call)
        if return_state:
            future.wait()
            return future.state
        return future

    def map(self, *args: Any, **kwargs: Any) -> FutureList[R]:
        """Submit one task run per item of the iterable arguments.

        Lists, tuples, sets, ranges, generators and futures of those are mapped over;
        strings, bytes, dicts and ``unmapped(value)`` are passed whole to every run.
        All mapped iterables must have the same length; an empty one makes no runs.
        """
        wait_for = kwargs.pop("wait_for", None)
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"task {self.name!r}.map: {error}") from None
        mapped: dict[str, list[Any]] = {}
        for param, value in bound.arguments.items():
            kind = self.signature.parameters[param].kind
            if isinstance(value, unmapped):
                bound.arguments[param] = value.value
            elif kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            else:
                if isinstance(value, TaskFuture):
                    value = value.result()
                if _is_mappable(value):
                    mapped[param] = list(value)
        if not mapped:
            raise MappingError(
                f"task {self.name!r}.map needs at least one iterable argument; wrap the ones "
                "to pass whole in unmapped()"
            )
        lengths = {param: len(values) for param, values in mapped.items()}
        if len(set(lengths.values())) > 1:
            raise MappingError(
                f"task {self.name!r}.map got iterables of different lengths: {lengths}"
            )
        futures: FutureList[R] = FutureList()
        for i in range(next(iter(lengths.values()))):
            for param, values in mapped.items():
                bound.arguments[param] = values[i]
            futures.append(self.submit(*bound.args, wait_for=wait_for, **bound.kwargs))
        return futures

    def _new_call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], wait_for: Iterable[Any] | None
    ) -> TaskCall:
        configure_logging()
        flow_ctx = flow_run_context.get()
        parent_task = task_run_context.get()
        if flow_ctx is not None:
            reporter: Reporter = flow_ctx.reporter
            flow_run_id: str | None = flow_ctx.flow_run.id
            log_prints = flow_ctx.log_prints if self.log_prints is None else self.log_prints
            persist_default = flow_ctx.persist_result
            storage = self.result_storage or flow_ctx.result_storage
        elif parent_task is not None:  # a task called by a task, e.g. on a Dask worker
            reporter = parent_task.reporter
            flow_run_id = parent_task.task_run.flow_run_id
            log_prints = bool(self.log_prints)
            persist_default, storage = None, self.result_storage
        else:
            reporter, flow_run_id = current_reporter(), None
            log_prints, persist_default, storage = bool(self.log_prints), None, self.result_storage
        run_id = new_id()
        name = (
            flow_ctx.next_task_run_name(self.name)
            if flow_ctx is not None
            else f"{self.name}-{run_id[-8:]}"
        )
        wait_for = list(wait_for) if wait_for else []
        record = TaskRunRecord(
            id=run_id,
            name=name,
            task_key=self.task_key,
            flow_run_id=flow_run_id,
            task_inputs=self._upstream(args, kwargs, wait_for, flow_ctx),
            tags=sorted(self.tags | current_tags()) if self.tags or current_tags() else [],
        )
        reporter.task_run_created(record)
        persist = self.persist_result
        if persist is None:
            persist = persist_default if persist_default is not None else False
        if log_prints:
            capture_prints()
        call = TaskCall(
            self, record, args, kwargs, wait_for, reporter, log_prints, persist, storage
        )
        call.set_state(Pending())
        return call

    def _upstream(
        self,
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
                    names = _positional_names(self.signature)
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

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


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


def _is_mappable(value: Any) -> bool:
    if isinstance(value, (str, bytes, dict)):
        return False
    return isinstance(value, Iterable)


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


_default_runner: TaskRunner | None = None


def _runner_for_submit() -> TaskRunner:
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx.task_runner
    global _default_runner
    if _default_runner is None:  # task.submit() outside a flow, as Prefect 3 allows
        from jupyter_flows.engine.runners import ThreadPoolTaskRunner

        _default_runner = ThreadPoolTaskRunner()
    return _default_runner


@overload
def task(__fn: Callable[P, R]) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    description: str | None = None,
    version: str | None = None,
    tags: Iterable[str] | None = None,
    retries: int = 0,
    retry_delay_seconds: RetryDelay = 0,
    retry_jitter_factor: float | None = None,
    retry_condition_fn: RetryConditionFn | None = None,
    timeout_seconds: float | None = None,
    log_prints: bool | None = None,
    cache_key_fn: CacheKeyFn | None = None,
    cache_expiration: timedelta | None = None,
    persist_result: bool | None = None,
    result_storage: str | None = None,
    refresh_cache: bool | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(__fn: Any = None, **options: Any) -> Any:
    """Make a function a task: bare (``@task``) or with options (``@task(retries=2)``)."""
    if __fn is not None:
        return Task(__fn, **options)
    return lambda fn: Task(fn, **options)
