"""Run a callable with a time limit.

Python cannot kill a thread. So the work runs in a thread of its own and the caller waits
for it at most ``timeout`` seconds. When time is up the caller stops waiting (the run is
marked TimedOut) and the work's thread is sent ``TimeoutInterrupt``, an asynchronous
exception delivered at its next Python instruction: pure-Python work stops at once, while a
call blocked inside C (``time.sleep``, a socket read, a numpy kernel) first runs to its end
and is stopped right after, before the next line of the task runs. Nothing the thread does
after the timeout is reported. A flow in a process of its own goes further: the process
ends (see ``engine.flow``). An ``async def`` run is cancelled instead, at its next
``await`` (see ``engine.driver``).
"""

from __future__ import annotations

import contextvars
import ctypes
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_flows.engine.errors import TimeoutInterrupt

T = TypeVar("T")


class _Outcome:
    __slots__ = ("value", "error", "done")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False


def interrupt_thread(thread: threading.Thread) -> bool:
    """Raise TimeoutInterrupt in ``thread`` at its next Python instruction."""
    ident = thread.ident
    if ident is None or not thread.is_alive():
        return False
    changed = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(TimeoutInterrupt)
    )
    if changed > 1:  # should never happen; undo rather than hit other threads
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
        return False
    return bool(changed == 1)


def call_with_timeout(
    fn: Callable[[], T], timeout: float, on_timeout: Callable[[], BaseException]
) -> T:
    """Return ``fn()``, or raise ``on_timeout()`` after ``timeout`` seconds and stop its thread."""
    outcome = _Outcome()
    context = contextvars.copy_context()  # new threads start with an empty context

    def target() -> None:
        try:
            try:
                outcome.value = context.run(fn)
            except TimeoutInterrupt:
                return
            except BaseException as error:  # handed to the waiting caller
                outcome.error = error
            outcome.done = True
        except TimeoutInterrupt:  # arrived just as the work ended: nothing left to stop
            return

    thread = threading.Thread(target=target, name="flows-timeout", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome.done and thread.is_alive():
        interrupt_thread(thread)
        raise on_timeout()
    if outcome.error is not None:
        raise outcome.error
    value: T = outcome.value
    return value
