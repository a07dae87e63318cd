"""The one place states and logs leave the engine.

A run calls its reporter when it is created, at every state change, for every log line and
for every artifact it makes (an executed notebook, a table, a link).
What happens next is the reporter's business: ``NullReporter`` drops everything,
``MemoryReporter`` keeps it in lists (tests, benchmarks, and the buffer a Dask worker ships
back with its result), and the server's HTTP reporter batches it to the REST API.

The reporter of a run is chosen when the run starts: the one installed with
``use_reporter`` in the current context, else the process default (``set_default_reporter``),
else, when ``JUPYTER_FLOWS_API_URL`` is set (the Jupyter server sets it for its kernels), one
``HttpReporter`` made for the process on first use, else a ``NullReporter``.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from jupyter_flows.engine.run_env import API_URL
from jupyter_flows.engine.states import State

RunKind = Literal["flow_run", "task_run"]


@dataclass(slots=True)
class FlowRunRecord:
    id: str
    name: str
    flow_name: str
    parameters: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    parent_flow_run_id: str | None = None
    parent_task_run_id: str | None = None
    flow_version: str | None = None


@dataclass(slots=True)
class TaskRunRecord:
    id: str
    name: str
    task_key: str
    flow_run_id: str | None
    #: parameter name -> ids of the task runs whose results it received (the DAG's edges)
    task_inputs: dict[str, list[str]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    cache_key: str | None = None


@dataclass(slots=True)
class StateRecord:
    kind: RunKind
    run_id: str
    state: State


@dataclass(slots=True)
class LogRecord:
    flow_run_id: str | None
    task_run_id: str | None
    level: int
    timestamp: datetime
    message: str
    name: str = "jupyter_flows"

    def to_dict(self) -> dict[str, Any]:
        return {
            "flow_run_id": self.flow_run_id,
            "task_run_id": self.task_run_id,
            "level": self.level,
            "timestamp": self.timestamp.isoformat(),
            "message": self.message,
            "name": self.name,
        }


@dataclass(slots=True)
class ArtifactRecord:
    """Something a run made for people to look at: ``type`` is notebook (``data["uri"]``),
    table (``data["rows"]``, ``data["columns"]``) or link (``data["url"]``)."""

    id: str
    flow_run_id: str
    type: Literal["notebook", "table", "link"]
    data: dict[str, Any]
    task_run_id: str | None = None
    key: str | None = None
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "flow_run_id": self.flow_run_id,
            "task_run_id": self.task_run_id,
            "type": self.type,
            "key": self.key,
            "description": self.description,
            "data": self.data,
        }


class Reporter(Protocol):
    def flow_run_created(self, record: FlowRunRecord) -> None: ...
    def task_run_created(self, record: TaskRunRecord) -> None: ...
    def state_changed(self, record: StateRecord) -> None: ...
    def log(self, record: LogRecord) -> None: ...
    def artifact_created(self, record: ArtifactRecord) -> None: ...
    def flush(self) -> None: ...


def report_artifact(reporter: Reporter, record: ArtifactRecord) -> None:
    """Hand ``record`` to ``reporter``; a reporter written before artifacts existed skips it."""
    method = getattr(reporter, "artifact_created", None)
    if method is not None:
        method(record)


class NullReporter:
    """Drops everything: a flow called with no reporter configured costs nothing extra."""

    def flow_run_created(self, record: FlowRunRecord) -> None:
        pass

    def task_run_created(self, record: TaskRunRecord) -> None:
        pass

    def state_changed(self, record: StateRecord) -> None:
        pass

    def log(self, record: LogRecord) -> None:
        pass

    def artifact_created(self, record: ArtifactRecord) -> None:
        pass

    def flush(self) -> None:
        pass


class MemoryReporter:
    """Keeps every record in order, in memory.

    ``list.append`` is atomic, so task threads may report concurrently.
    """

    def __init__(self) -> None:
        self.flow_runs: list[FlowRunRecord] = []
        self.task_runs: list[TaskRunRecord] = []
        self.states: list[StateRecord] = []
        self.logs: list[LogRecord] = []
        self.artifacts: list[ArtifactRecord] = []

    def flow_run_created(self, record: FlowRunRecord) -> None:
        self.flow_runs.append(record)

    def task_run_created(self, record: TaskRunRecord) -> None:
        self.task_runs.append(record)

    def state_changed(self, record: StateRecord) -> None:
        self.states.append(record)

    def log(self, record: LogRecord) -> None:
        self.logs.append(record)

    def artifact_created(self, record: ArtifactRecord) -> None:
        self.artifacts.append(record)

    def flush(self) -> None:
        pass

    def replay_into(self, other: Reporter) -> None:
        """Send everything held here to another reporter, in a stable order."""
        for flow_run in self.flow_runs:
            other.flow_run_created(flow_run)
        for task_run in self.task_runs:
            other.task_run_created(task_run)
        for state in self.states:
            other.state_changed(state)
        for line in self.logs:
            other.log(line)
        for artifact in self.artifacts:
            report_artifact(other, artifact)

    # Conveniences for tests and the CLI.
    def states_of(self, run_id: str) -> list[str]:
        """The state names one run went through, in order."""
        return [r.state.name for r in self.states if r.run_id == run_id]

    def task_run_named(self, name: str) -> TaskRunRecord:
        for record in self.task_runs:
            if record.name == name:
                return record
        raise KeyError(f"no task run named {name!r}; have {[r.name for r in self.task_runs]}")

    def messages(self) -> list[str]:
        return [r.message for r in self.logs]


_NULL = NullReporter()
#: None until set_default_reporter is called: then the environment decides (see module doc).
_default: Reporter | None = None
_from_env: tuple[str, Reporter] | None = None
_from_env_lock = threading.Lock()
_current: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "jupyter_flows_reporter", default=None
)

R = TypeVar("R", bound=Reporter)


def set_default_reporter(reporter: Reporter | None) -> None:
    """The reporter of every run started outside a ``use_reporter`` block.

    None drops everything, even with ``JUPYTER_FLOWS_API_URL`` set; until this is called,
    that variable decides.
    """
    global _default
    _default = reporter or _NULL


@contextlib.contextmanager
def use_reporter(reporter: R) -> Iterator[R]:
    """Report the runs started inside this block to ``reporter``."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        reporter.flush()
        _current.reset(token)


def current_reporter() -> Reporter:
    reporter = _current.get() or _default
    if reporter is not None:
        return reporter
    url = os.environ.get(API_URL)
    return _environment_reporter(url) if url else _NULL


def _environment_reporter(url: str) -> Reporter:
    """The process's HTTP reporter for ``url``, made once (httpx loads on its first record)."""
    global _from_env
    with _from_env_lock:
        if _from_env is None or _from_env[0] != url:
            from jupyter_flows.engine.http_reporter import from_environment

            made: Reporter | None = from_environment()
            _from_env = (url, made if made is not None else _NULL)
        return _from_env[1]
