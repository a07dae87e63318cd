"""@task: a function whose calls inside a flow become task runs.

``Task`` holds the options (retries, delays, timeout, caching, result persistence) and the
three ways to run: a direct call runs at once, ``submit`` hands the run to the flow's task
runner, ``map`` submits one run per item. The run itself is a ``TaskCall``
(``engine/task_run.py``).

An ``async def`` task called from async code returns a coroutine to await (or to gather);
called from a sync flow or task it runs to its end on an event loop of its own and returns
its value (``engine.driver.caller_is_sync``). ``submit`` and ``map`` work the same for both.
"""

from __future__ import annotations

import copy
import functools
import inspect
import random
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, Generic, ParamSpec, TypeVar, overload

from jupyter_flows.engine.cache import CacheKeyFn, code_hash
from jupyter_flows.engine.cache_policies import CacheKeyFnPolicy, CachePolicy
from jupyter_flows.engine.callables import FunctionKind, MethodBinding, RunName, unwrap_method
from jupyter_flows.engine.context import flow_run_context
from jupyter_flows.engine.driver import caller_is_sync, drive_async
from jupyter_flows.engine.errors import MappingLengthMismatch, MappingMissingIterable
from jupyter_flows.engine.futures import FutureList, TaskFuture, unmapped
from jupyter_flows.engine.reporter import TaskRunRecord
from jupyter_flows.engine.runners import TaskRunner, ThreadPoolTaskRunner
from jupyter_flows.engine.states import State
from jupyter_flows.engine.task_run import TaskCall, new_task_run

P = ParamSpec("P")
R = TypeVar("R")

RetryDelay = float | list[float] | Callable[[int], list[float]]
RetryConditionFn = Callable[["Task[..., Any]", TaskRunRecord, State], bool]


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
    """The checks @flow and @task share: a function, whole retries, a positive timeout."""
    if not callable(fn):
        raise TypeError(f"@{kind} needs a function, got {type(fn).__name__}")
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number >= 0, got {retries!r}")
    if timeout_seconds is not None and timeout_seconds <= 0:
        raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds!r}")


class Task(MethodBinding, Generic[P, R]):
    """A function whose calls inside a flow become task runs (see ``task``)."""

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
        retry_jitter_factor: float | None = None,
        retry_condition_fn: RetryConditionFn | None = None,
        timeout_seconds: float | None = None,
        log_prints: bool | None = None,
        cache_key_fn: CacheKeyFn | None = None,
        cache_expiration: timedelta | None = None,
        persist_result: bool | None = None,
        result_storage: str | None = None,
        refresh_cache: bool | None = None,
        cache_policy: CachePolicy | None = None,
        task_run_name: RunName | None = None,
    ) -> None:
        decorated = fn
        fn, method_kind = unwrap_method(fn)
        check_decorator_options("task", fn, retries, timeout_seconds)
        if retry_jitter_factor is not None and retry_jitter_factor < 0:
            raise ValueError(f"retry_jitter_factor must be >= 0, got {retry_jitter_factor!r}")
        if cache_policy is not None and not isinstance(cache_policy, CachePolicy):
            raise TypeError(
                "cache_policy must be a policy from jupyter_flows.cache_policies, "
                f"got {type(cache_policy).__name__}"
            )
        self.fn = fn
        functools.update_wrapper(self, fn)  # first: it copies the function's __dict__ here
        self._method_kind = method_kind
        self.kind = FunctionKind(fn)
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
        self.cache_policy = cache_policy
        self.task_run_name = task_run_name
        #: The policy that keys this task's cached results; None: cached only when results
        #: persist, by the default key (see ``engine.cache_policies``).
        self.key_policy: CachePolicy | None = None
        if cache_key_fn is not None:
            self.key_policy = CacheKeyFnPolicy(cache_key_fn)
        elif cache_policy is not None and persist_result is not False:
            self.key_policy = cache_policy
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
            cache_policy=cache_policy,
            task_run_name=task_run_name,
        )
        self._decorated = decorated
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
        changed: Task[P, R] = Task(self._decorated, **{**self._options, **changes})
        changed._bound = self._bound
        return changed

    def retry_delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based), jitter included."""
        delay = self._delays[min(retry_number, len(self._delays)) - 1] if self._delays else 0.0
        if self.retry_jitter_factor:
            delay *= 1 + random.uniform(0, self.retry_jitter_factor)
        return delay

    # -- the three ways to run a task ----------------------------------------------------
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return_state = bool(kwargs.pop("return_state", False))
        wait_for = kwargs.pop("wait_for", None)
        if self._bound:
            args = (*self._bound, *args)  # type: ignore[assignment]
        if self.kind.is_async and not caller_is_sync():
            return self._awaitable(args, kwargs, wait_for, return_state)  # type: ignore[return-value]
        call = new_task_run(self, args, kwargs, wait_for)  # type: ignore[arg-type]
        return _outcome(call, call.run(), return_state)  # type: ignore[no-any-return]

    async def _awaitable(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], wait_for: Any, return_state: bool
    ) -> Any:
        # The run is made when awaited: a coroutine never awaited leaves no Pending run.
        call = new_task_run(self, args, kwargs, wait_for)
        return _outcome(call, await drive_async(call.steps()), return_state)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task on the flow's task runner; returns a TaskFuture at once."""
        return_state = kwargs.pop("return_state", False)
        wait_for = kwargs.pop("wait_for", None)
        if self._bound:
            args = (*self._bound, *args)
        call = new_task_run(self, args, kwargs, wait_for)
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
        if self._bound:  # the instance or class is passed whole to every run
            args = (*(unmapped(target) for target in self._bound), *args)
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
            raise MappingMissingIterable(
                f"task {self.name!r}.map needs at least one iterable argument; wrap the ones "
                "to pass whole in unmapped()"
            )
        lengths = {param: len(values) for param, values in mapped.items()}
        if len(set(lengths.values())) > 1:
            raise MappingLengthMismatch(
                f"task {self.name!r}.map got iterables of different lengths: {lengths}"
            )
        futures: FutureList[R] = FutureList()
        unbound = copy_unbound(self)
        for i in range(next(iter(lengths.values()))):
            for param, values in mapped.items():
                bound.arguments[param] = values[i]
            futures.append(unbound.submit(*bound.args, wait_for=wait_for, **bound.kwargs))
        return futures

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


def _outcome(call: TaskCall, state: State, return_state: bool) -> Any:
    if return_state:
        return state
    if call.returned_state is not None:  # the function returned a state: the caller gets it
        return call.returned_state
    return state.result()


def copy_unbound(task: Task[P, R]) -> Task[P, R]:
    """``task`` without its bound instance (``map`` has put it among the arguments)."""
    if not task._bound:
        return task
    unbound = copy.copy(task)
    unbound._bound = ()
    return unbound


def _is_mappable(value: Any) -> bool:
    if isinstance(value, (str, bytes, dict)):
        return False
    return isinstance(value, Iterable)


_default_runner: TaskRunner | None = None


def _runner_for_submit() -> TaskRunner:
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx.task_runner
    global _default_runner
    if _default_runner is None:  # task.submit() outside a flow, as Prefect 3 allows
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
    cache_policy: CachePolicy | None = None,
    task_run_name: RunName | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(__fn: Any = None, **options: Any) -> Any:
    """Make a function a task: bare (``@task``) or with options (``@task(retries=2)``)."""
    if __fn is not None:
        return Task(__fn, **options)
    return lambda fn: Task(fn, **options)
