"""What the REST API answers, as pydantic models (the client's side of docs/rest-api.md).

Every model keeps fields it does not know (``extra="allow"``), so a server newer than the
client loses nothing; fields the contract marks optional default to None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from jupyter_flows.engine.states import FINAL_TYPES

T = TypeVar("T")

#: State types that end a run, as the wire spells them (``engine.states.FINAL_TYPES``).
FINAL_STATE_TYPES = frozenset(t.value for t in FINAL_TYPES)


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Page(Model, Generic[T]):
    """One page of a list: ``items`` and where it sits in the whole (``total``)."""

    items: list[T]
    total: int = 0
    limit: int = 50
    offset: int = 0


class StateInfo(Model):
    type: str
    name: str
    message: str | None = None
    timestamp: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.type in FINAL_STATE_TYPES


class FlowGroup(Model):
    id: str
    name: str
    project: str = "default"
    description: str | None = None
    latest_version_id: str | None = None
    latest_version_number: int | None = None
    created: datetime | None = None
    updated: datetime | None = None


class FlowVersion(Model):
    id: str
    flow_id: str
    version_number: int
    content: dict[str, Any] = Field(default_factory=dict)
    changes: Any = None
    entrypoint: str | None = None
    #: When the version was made (the POST answer may overload this name with a bool).
    created: datetime | bool | None = None


class Registration(Model):
    """The answer of ``POST flows``: the version, and whether this call made it."""

    version: FlowVersion
    new: bool


class Deployment(Model):
    id: str
    flow_id: str
    name: str
    version_policy: str = "latest"
    version_id: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    work_queue: str | None = "default"
    tags: list[str] = Field(default_factory=list)
    paused: bool = False
    schedule: dict[str, Any] | None = None
    created: datetime | None = None
    updated: datetime | None = None


class FlowRun(Model):
    id: str
    name: str
    flow_id: str | None = None
    flow_name: str | None = None
    flow_version_id: str | None = None
    deployment_id: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    state: StateInfo | None = None
    run_count: int = 0
    #: The current attempt's number (claims so far; 0 before any).
    attempt: int = 0
    expected_start_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: float | None = None
    parent_flow_run_id: str | None = None
    parent_task_run_id: str | None = None
    work_queue: str | None = None
    agent_id: str | None = None
    #: Where the last attempt ran, as its agent described its infrastructure.
    infrastructure: str | None = None
    #: How the run came to be (schedule, backfill, rerun, ui, cli, magic, …).
    trigger: str | None = None
    created: datetime | None = None
    updated: datetime | None = None


class TaskRun(Model):
    id: str
    flow_run_id: str
    name: str
    task_key: str | None = None
    task_inputs: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    cache_key: str | None = None
    state: StateInfo | None = None
    run_count: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    total_run_time: float | None = None


class LogLine(Model):
    id: int | str | None = None
    flow_run_id: str
    task_run_id: str | None = None
    level: int
    timestamp: datetime
    message: str
    name: str = ""


class Artifact(Model):
    """What a run made: an executed notebook (``data.digest`` names its blob), a table, a link."""

    id: str
    flow_run_id: str
    task_run_id: str | None = None
    type: str
    key: str | None = None
    description: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    created: datetime | None = None


class WorkQueue(Model):
    name: str
    id: str | None = None
    tags: list[str] = Field(default_factory=list)
    concurrency_limit: int | None = None
    paused: bool = False
    created: datetime | None = None
    updated: datetime | None = None


class QueuedRun(FlowRun):
    """A run in a work queue's preview; ``pending_reason`` says why a due run waits."""

    pending_reason: str | None = None


class ApiKey(Model):
    id: str
    name: str
    role: str
    created: datetime | None = None
    #: Only in the answer that created the key: it is shown this once.
    token: str | None = None


class Credential(Model):
    """A credential as the API lists it: its name and variable, never its value."""

    name: str
    env: str
    created: datetime | None = None
    updated: datetime | None = None


class RunCredential(Model):
    """One value a claimed run's attempt receives (only its agent ever sees this)."""

    name: str
    env: str
    value: str

    def __repr__(self) -> str:  # a value never lands in a traceback or a log by repr
        return f"RunCredential(name={self.name!r}, env={self.env!r}, value='***')"

    __str__ = __repr__


class Rejected(Model):
    kind: str
    index: int
    error: str
    message: str


class IngestResult(Model):
    flow_runs: int = 0
    task_runs: int = 0
    states: int = 0
    logs: int = 0
    rejected: list[Rejected] = Field(default_factory=list)


class Agent(Model):
    id: str
    name: str
    work_queue: str | None = None
    status: str = "online"
    last_heartbeat_at: datetime | None = None
    #: Runs it claimed that have not ended.
    running: int = 0
    #: Where its runs go ("kubernetes, namespace flows").
    infrastructure: str | None = None
    created: datetime | None = None


class ClaimedVersion(Model):
    id: str
    flow_id: str | None = None
    version_number: int | None = None
    entrypoint: str | None = None
    content: dict[str, Any] = Field(default_factory=dict)


class RunLease(Model):
    """The lease of one attempt of a claimed run: what that attempt presents with every
    state, log batch and heartbeat (the server refuses a stale one: 409 stale_attempt)."""

    flow_run_id: str
    attempt: int
    token: str
    expires_at: datetime | None = None

    def wire(self) -> dict[str, Any]:
        return {"flow_run_id": self.flow_run_id, "attempt": self.attempt, "token": self.token}


class ClaimedRun(FlowRun):
    """A run an agent claimed (now Pending) and what it needs to run it."""

    flow_version: ClaimedVersion | None = None
    run_config: dict[str, Any] = Field(default_factory=dict)
    attempt: int = 1
    lease: RunLease | None = None


class HeartbeatAnswer(Model):
    """Runs the agent must stop: ``cancel`` all of them; ``fenced`` are those whose attempt
    is over (stop them without reporting anything)."""

    cancel: list[str] = Field(default_factory=list)
    fenced: list[str] = Field(default_factory=list)


class AgentLogLine(Model):
    id: int | str | None = None
    agent_id: str
    level: int
    timestamp: datetime
    message: str
    name: str = ""


class PendingReason(Model):
    flow_run_id: str
    state: StateInfo | None = None
    due: bool = False
    pending_reason: str | None = None
