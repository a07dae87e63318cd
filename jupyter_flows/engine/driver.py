"""The one seam between the engine and the way a run waits: blocking, awaiting or streaming.

The engine (``TaskCall.steps`` and ``flow_steps``) is written once, as a generator that
yields an *effect* wherever a run has to wait (call the user's function once, sleep before
a retry, wait for upstream futures) and gets the effect's result back, or its error thrown
in. It never blocks or awaits by itself. A driver performs the effects:

- ``drive(steps)`` blocks in this thread: plain calls, ``time.sleep``, ``future.wait()``.
  An ``async def`` function runs to its end on an event loop of its own (on a helper
  thread when this thread is running a loop already).
- ``await drive_async(steps)`` awaits on the running loop: ``async def`` functions are
  awaited there, sleeps are ``asyncio.sleep``, running futures are waited for on a thread.
- ``drive_stream(steps)`` / ``drive_async_stream(steps)`` are ``drive`` and ``drive_async``
  for a generator flow: each value the function yields goes to the caller as it comes.

States, retries, timeouts, caching and logs are therefore the same code for sync and async
runs; only the effects differ. asyncio is imported on first use, never by
``import jupyter_flows``.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_flows.engine.context import flow_run_context, task_run_context
from jupyter_flows.engine.errors import RunTimedOut
from jupyter_flows.engine.timeouts import call_with_timeout

if TYPE_CHECKING:
    from jupyter_flows.engine.futures import TaskFuture

T = TypeVar("T")


class Call:
    """One attempt: call the user's function and hand back its value (``then`` applied).

    ``timeout`` bounds the call and ``then`` together; past it ``timeout_error`` is raised
    (naming the run ``run_name``),
    and kept as ``expired``: the engine tells its own timeout from one that reached it from
    inside the call (a subflow's) by identity.
    """

    __slots__ = (
        "fn",
        "args",
        "kwargs",
        "is_async",
        "timeout",
        "timeout_error",
        "run_name",
        "then",
        "expired",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        is_async: bool,
        timeout: float | None,
        timeout_error: type[RunTimedOut],
        run_name: str,
        then: Callable[[Any], Any],
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.is_async = is_async
        self.timeout = timeout
        self.timeout_error = timeout_error
        self.run_name = run_name
        self.then = then
        self.expired: RunTimedOut | None = None

    def block(self) -> Any:
        if self.is_async:
            return run_coroutine(self.run_async)
        if self.timeout is None:
            return self.then(self.fn(*self.args, **self.kwargs))
        return call_with_timeout(
            lambda: self.then(self.fn(*self.args, **self.kwargs)), self.timeout, self.timed_out
        )

    async def wait(self) -> Any:
        if not self.is_async:  # a sync function called from async code runs in place
            return self.block()
        if self.timeout is not None:
            return await within(self._awaited(), self.timeout, self.timed_out)
        result = self.fn(*self.args, **self.kwargs)  # _awaited, inline: one coroutine less
        if hasattr(result, "__anext__"):
            return self.then([item async for item in result])
        return self.then(await result)

    async def run_async(self) -> Any:
        if self.timeout is None:
            return await self._awaited()
        return await within(self._awaited(), self.timeout, self.timed_out)

    async def _awaited(self) -> Any:
        result = self.fn(*self.args, **self.kwargs)
        if hasattr(result, "__anext__"):  # an async generator task: collected, as Prefect 2
            return self.then([item async for item in result])
        return self.then(await result)

    def timed_out(self) -> RunTimedOut:
        self.expired = self.timeout_error(
            f"{self.timeout_error.run_kind} {self.run_name!r} exceeded its timeout of "
            f"{self.timeout:g} seconds"
        )
        return self.expired

    def deadline(self) -> float | None:
        return None if self.timeout is None else time.monotonic() + self.timeout


class Sleep:
    """Wait before a retry."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def block(self) -> None:
        time.sleep(self.seconds)

    async def wait(self) -> None:
        import asyncio

        await asyncio.sleep(self.seconds)


class Wait:
    """Wait until upstream futures are final."""

    __slots__ = ("futures",)

    def __init__(self, futures: list[TaskFuture[Any]]) -> None:
        self.futures = futures

    def block(self) -> None:
        for future in self.futures:
            future.wait()

    async def wait(self) -> None:
        import asyncio

        for future in self.futures:
            if not future.done():  # the loop goes on while a thread waits
                await asyncio.to_thread(future.wait)


Effect = Call | Sleep | Wait
Steps = Generator[Effect, Any, T]


# -- drivers ----------------------------------------------------------------------------------


def drive(steps: Steps[T]) -> T:
    """Run the engine's steps in this thread, blocking wherever they wait."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        error = None
        try:
            reply = effect.block()
        except BaseException as caught:  # thrown into the steps, which decide what it means
            reply, error = None, caught


async def drive_async(steps: Steps[T]) -> T:
    """Run the engine's steps on the running event loop, awaiting wherever they wait."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        error = None
        try:
            reply = await effect.wait()
        except BaseException as caught:
            reply, error = None, caught


def drive_stream(steps: Steps[T]) -> Generator[Any, None, T]:
    """``drive`` for a generator flow: what the function yields is yielded on, as it comes.

    The run's context lives in a context of its own, entered for each step, so the
    caller's code between two values does not run inside the flow run. Closing the
    generator early closes the function's generator and completes the run, as Prefect does.
    """
    context = contextvars.copy_context()
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is None:
                effect = context.run(steps.send, reply)
            else:
                effect = context.run(steps.throw, error)
        except StopIteration as stop:
            result: T = stop.value
            return result
        error = None
        if type(effect) is not Call:
            try:
                reply = context.run(effect.block)
            except BaseException as caught:
                reply, error = None, caught
            continue
        try:
            produced = context.run(effect.fn, *effect.args, **effect.kwargs)
            deadline = effect.deadline()
        except BaseException as caught:
            reply, error = None, caught
            continue
        while True:
            try:
                item = context.run(_next_item, produced, effect, deadline)
            except StopIteration as end:
                try:
                    reply = context.run(effect.then, end.value)
                except BaseException as caught:
                    reply, error = None, caught
                break
            except BaseException as caught:
                reply, error = None, caught
                break
            try:
                yield item
            except GeneratorExit:  # the caller stopped early: the run still completes
                produced.close()
                return _finish(context, steps, None)


def _next_item(produced: Generator[Any, Any, Any], call: Call, deadline: float | None) -> Any:
    if deadline is None:
        return next(produced)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise call.timed_out()
    return call_with_timeout(lambda: next(produced), remaining, call.timed_out)


def _finish(context: contextvars.Context, steps: Steps[T], reply: Any) -> T:
    """The rest of the steps, without handing anything more to the caller."""
    return context.run(drive, _resumed(steps, reply))


def _resumed(steps: Steps[T], reply: Any) -> Steps[T]:
    """``steps`` resumed with ``reply``: what a driver needs to take them over mid-way."""
    try:
        effect = steps.send(reply)
        while True:
            try:
                reply = yield effect
            except BaseException as error:
                effect = steps.throw(error)
            else:
                effect = steps.send(reply)
    except StopIteration as stop:
        result: T = stop.value
        return result


async def drive_async_stream(
    steps: Steps[T], finished: Callable[[T], None]
) -> AsyncGenerator[Any, None]:
    """``drive_async`` for an ``async def`` generator flow. An async generator returns no
    value, so the final state goes to ``finished`` (which raises a failed run's error).

    Unlike ``drive_stream``, the run's context variables are those of the caller's task
    (an awaiting caller cannot hop contexts), so code between two values runs inside the
    flow run, as in Prefect.
    """
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            finished(stop.value)
            return
        error = None
        if type(effect) is not Call:
            try:
                reply = await effect.wait()
            except BaseException as caught:
                reply, error = None, caught
            continue
        try:
            produced = effect.fn(*effect.args, **effect.kwargs)
            deadline = effect.deadline()
        except BaseException as caught:
            reply, error = None, caught
            continue
        reply = None
        while True:
            try:
                if deadline is None:
                    item = await produced.__anext__()
                else:
                    remaining = max(deadline - time.monotonic(), 0.0)
                    item = await within(produced.__anext__(), remaining, effect.timed_out)
            except StopAsyncIteration:
                try:
                    reply = effect.then(None)
                except BaseException as caught:
                    reply, error = None, caught
                break
            except BaseException as caught:
                reply, error = None, caught
                break
            try:
                yield item
            except GeneratorExit:  # the caller stopped early: the run still completes
                await produced.aclose()
                drive(_resumed(steps, None))
                return


# -- event loops ------------------------------------------------------------------------------


async def within(
    awaitable: Coroutine[Any, Any, T] | Any, seconds: float, error: Callable[[], BaseException]
) -> T:
    """Await ``awaitable`` for at most ``seconds``; past them cancel it and raise ``error()``.

    Unlike ``asyncio.wait_for``, a ``TimeoutError`` raised by the work itself stays what it
    is: only running out of time becomes the run's timeout.
    """
    import asyncio

    work = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({work}, timeout=seconds)
    except BaseException:  # the caller was cancelled: so is the work
        work.cancel()
        raise
    if work in done:
        result: T = work.result()
        return result
    work.cancel()
    with contextlib.suppress(BaseException):  # what it raises while unwinding is moot now
        await work
    raise error()


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end on an event loop of its own and return its result.

    A thread that is running a loop already cannot run another one, so there the coroutine
    runs on a helper thread (in this context) while this thread waits.
    """
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, factory())
        except BaseException as error:  # handed to the waiting caller
            outcome["error"] = error

    helper = threading.Thread(target=target, name="flows-event-loop", daemon=True)
    helper.start()
    helper.join()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def caller_is_sync() -> bool:
    """True when the innermost running flow or task is a sync function.

    Such code cannot ``await``, so an async flow or task it calls runs to its end on an
    event loop of its own and returns its value (as Prefect 2 did for async subflows of sync
    flows). Async code, and code outside any run, gets a coroutine to await, as in Prefect 3
    (``asyncio.run(my_flow())``).
    """
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return not task_ctx.is_async
    flow_ctx = flow_run_context.get()
    return flow_ctx is not None and not flow_ctx.is_async
