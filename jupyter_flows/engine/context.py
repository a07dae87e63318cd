"""What a running flow or task knows about itself, carried in context variables.

Context variables follow the code into task threads (the runners copy the context) and are
rebuilt on Dask workers from the picklable ``TaskCall``.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.errors import MissingContextError
from jupyter_flows.engine.reporter import FlowRunRecord, Reporter, TaskRunRecord

if TYPE_CHECKING:
    from jupyter_flows.engine.flow import Flow
    from jupyter_flows.engine.runners import TaskRunner
    from jupyter_flows.engine.task import Task

# Results of finished task runs, by id() of the value, so a value passed on to another task
# becomes an edge of the DAG even when tasks are called directly. Values that the
# interpreter shares between unrelated places (None, small ints, interned strings) cannot
# say where they came from and are not tracked.
_UNTRACKABLE = (type(None), bool, int, float, str, bytes, complex)


@dataclass(slots=True, eq=False)
class FlowRunContext:
    flow: Flow[..., Any]
    flow_run: FlowRunRecord
    reporter: Reporter
    task_runner: TaskRunner
    log_prints: bool
    persist_result: bool | None
    result_storage: str | None
    #: the flow's function is ``async def`` (what it calls may be awaited)
    is_async: bool = False
    _counters: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _result_owners: dict[int, tuple[Any, str]] = field(default_factory=dict)

    def next_task_run_name(self, task_name: str) -> str:
        with self._lock:
            n = self._counters.get(task_name, 0)
            self._counters[task_name] = n + 1
        return f"{task_name}-{n}"

    def remember_result(self, value: Any, task_run_id: str) -> None:
        if not isinstance(value, _UNTRACKABLE):
            self._result_owners[id(value)] = (value, task_run_id)

    def producer_of(self, value: Any) -> str | None:
        owner = self._result_owners.get(id(value))
        return owner[1] if owner is not None and owner[0] is value else None


@dataclass(slots=True, eq=False)
class TaskRunContext:
    task: Task[..., Any]
    task_run: TaskRunRecord
    reporter: Reporter
    log_prints: bool
    parameters: dict[str, Any]
    attempt: int = 1
    #: the task's function is ``async def`` (what it calls may be awaited)
    is_async: bool = False

    @property
    def task_run_id(self) -> str:
        return self.task_run.id

    @property
    def flow_run_id(self) -> str | None:
        return self.task_run.flow_run_id


flow_run_context: contextvars.ContextVar[FlowRunContext | None] = contextvars.ContextVar(
    "jupyter_flows_flow_run", default=None
)
task_run_context: contextvars.ContextVar[TaskRunContext | None] = contextvars.ContextVar(
    "jupyter_flows_task_run", default=None
)
_tags: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "jupyter_flows_tags", default=frozenset()
)


def get_run_context() -> TaskRunContext | FlowRunContext:
    """The innermost running task's context, else the running flow's."""
    ctx = task_run_context.get() or flow_run_context.get()
    if ctx is None:
        raise MissingContextError(
            "there is no active flow or task run here; call this from inside a @flow or @task"
        )
    return ctx


@contextlib.contextmanager
def tags(*names: str) -> Iterator[frozenset[str]]:
    """Add tags to every flow and task run started inside this block (as ``prefect.tags``)."""
    current = _tags.get() | frozenset(names)
    token = _tags.set(current)
    try:
        yield current
    finally:
        _tags.reset(token)


def current_tags() -> frozenset[str]:
    return _tags.get()
