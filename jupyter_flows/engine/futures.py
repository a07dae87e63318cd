"""TaskFuture: a submitted task run, and the helpers that resolve futures inside arguments."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from jupyter_flows.engine.states import State

R = TypeVar("R")


class TaskFuture(Generic[R]):
    """The handle ``task.submit()`` returns.

    ``wait_state(timeout)`` is the runner's way to reach the final state (a thread future,
    a Dask future); ``state`` without waiting shows the last state this process knows;
    ``native`` is the runner's own handle where it has one (the ``distributed.Future``).
    """

    __slots__ = (
        "task_run_id",
        "task_run_name",
        "native",
        "_wait_state",
        "_done",
        "_live",
        "_final",
    )

    def __init__(
        self,
        task_run_id: str,
        task_run_name: str,
        wait_state: Callable[[float | None], State],
        done: Callable[[], bool],
        live: Callable[[], State],
        native: Any = None,
    ) -> None:
        self.task_run_id = task_run_id
        self.native = native
        self.task_run_name = task_run_name
        self._wait_state = wait_state
        self._done = done
        self._live = live
        self._final: State | None = None

    @property
    def state(self) -> State:
        if self._final is not None:
            return self._final
        return self._live()

    def done(self) -> bool:
        return self._final is not None or self._done()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the task run is final, or ``timeout`` seconds pass."""
        if self._final is None:
            try:
                self._final = self._wait_state(timeout)
            except (TimeoutError, concurrent.futures.TimeoutError):
                return

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> R:
        """The task's return value; raises its error if it did not complete."""
        if self._final is None:
            try:
                self._final = self._wait_state(timeout)
            except concurrent.futures.TimeoutError as error:
                raise TimeoutError(
                    f"task run {self.task_run_name!r} did not finish within {timeout} seconds"
                ) from error
        return self._final.result(raise_on_failure=raise_on_failure)  # type: ignore[no-any-return]

    def add_done_callback(self, fn: Callable[[TaskFuture[R]], None]) -> None:
        """Call ``fn(self)`` once the run is final (in whichever thread gets there)."""
        # Simple and portable across runners: wait in a helper thread.
        import threading

        def waiter() -> None:
            self.wait()
            fn(self)

        threading.Thread(target=waiter, daemon=True).start()

    def __repr__(self) -> str:
        return f"TaskFuture({self.task_run_name!r}, state={self.state.name})"


class FutureList(list[TaskFuture[R]]):
    """What ``task.map`` returns: a list of futures that can also be waited on as one."""

    def wait(self, timeout: float | None = None) -> None:
        wait(self, timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[R]:
        return [f.result(timeout=timeout, raise_on_failure=raise_on_failure) for f in self]


def wait(
    futures: Iterable[TaskFuture[Any]], timeout: float | None = None
) -> tuple[set[TaskFuture[Any]], set[TaskFuture[Any]]]:
    """Wait for futures; return (done, not_done) like ``concurrent.futures.wait``."""
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    done: set[TaskFuture[Any]] = set()
    not_done: set[TaskFuture[Any]] = set()
    for future in futures:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        future.wait(remaining)
        (done if future.done() else not_done).add(future)
    return done, not_done


def as_completed(
    futures: Iterable[TaskFuture[Any]], timeout: float | None = None
) -> Iterator[TaskFuture[Any]]:
    """Yield futures as they finish."""
    import time

    pending = list(futures)
    deadline = None if timeout is None else time.monotonic() + timeout
    while pending:
        for future in list(pending):
            if future.done():
                future.wait()
                pending.remove(future)
                yield future
        if pending:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} futures did not finish in {timeout} s")
            pending[0].wait(0.01)


class unmapped(Generic[R]):  # noqa: N801 - Prefect's name
    """Wrap an argument of ``task.map`` that every mapped call receives whole."""

    __slots__ = ("value",)

    def __init__(self, value: R) -> None:
        self.value = value


class allow_failure(Generic[R]):  # noqa: N801 - Prefect's name
    """Pass an upstream future on even if it fails: the task receives its exception."""

    __slots__ = ("value",)

    def __init__(self, value: R) -> None:
        self.value = value
