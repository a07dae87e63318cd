"""Wire models: what the REST API accepts, one pydantic model per request, named by verb.

They are separate from the store's rows on purpose: a row has columns the API never shows
(hashes, sequence numbers) and the API has shapes the store does not keep (``work_queue``
by name, edges with parameter names). Every model forbids unknown fields, so a typo in a
client is a 400 naming the field rather than a value silently ignored. Answers are built
as plain dicts by the service layer; ``schema/openapi.yaml`` describes both directions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from jupyter_flows.engine.states import StateType
from jupyter_flows.spec.flow_kind import FlowKind

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Tags = list[Annotated[str, StringConstraints(min_length=1, max_length=200)]]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("a timestamp needs a timezone (times are UTC: add 'Z' or '+00:00')")
    return value


def _not_a_number(value: Any) -> Any:
    # An ISO 8601 string (or a datetime), never a number of seconds, which JSON Schema's
    # date-time format refuses and pydantic's lax mode would take.
    if isinstance(value, int | float):
        raise PydanticCustomError("datetime_type", "Input should be a valid datetime")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_aware)]


def _json_integer(value: Any) -> Any:
    # JSON Schema's integer: 3 and 3.0, never true or "3" (pydantic's lax mode takes both).
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


def _json_number(value: Any) -> Any:
    # JSON Schema's number: never true or "3".
    if isinstance(value, bool | str):
        raise PydanticCustomError("float_type", "Input should be a valid number")
    return value


JsonNumber = Annotated[float, BeforeValidator(_json_number)]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ------------------------------------------------------------------ flows


class TaskSpec(BaseModel):
    """One task of a flow version; settings beyond key and code hash are kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    key: Name
    code_hash: Annotated[str, StringConstraints(max_length=200)]
    name: str | None = None


class Edge(Wire):
    """``target`` receives the result of ``source`` in the parameters ``names``."""

    source: Name
    target: Name
    names: list[str] = Field(default_factory=list)


class FlowContent(Wire):
    #: A content without a kind is read by the rule of the time before kinds were written
    #: down (FlowSpec.from_content).
    kind: FlowKind | None = None
    tasks: list[TaskSpec] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    parameter_schema: dict[str, Any] = Field(default_factory=dict)
    task_runner: str | dict[str, Any] | None = "threads"
    run_config: dict[str, Any] = Field(default_factory=dict)
    resource_spec_hash: str | None = None
    #: The ResourceSpec (schema/resource-spec.schema.json); its hash becomes
    #: resource_spec_hash.
    resource_spec: dict[str, Any] | None = None


class RegisterFlow(Wire):
    name: Name
    project: Name = "default"
    description: str | None = None
    content: FlowContent
    entrypoint: str | None = None


# ------------------------------------------------------------------ deployments


class IntervalSchedule(Wire):
    interval_seconds: Annotated[float, Field(gt=0, le=10 * 365 * 86400)]
    anchor: Timestamp | None = None


class CronSchedule(Wire):
    cron: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "UTC"


Schedule = IntervalSchedule | CronSchedule


class CreateDeployment(Wire):
    flow_id: Id
    name: Name
    description: str | None = None
    version_policy: Literal["latest", "pinned"] = "latest"
    version_id: Id | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    work_queue: Name = "default"
    tags: Tags = Field(default_factory=list)
    paused: StrictBool = False
    schedule: Schedule | None = None


class Retention(Wire):
    """A deployment's own retention; a null (or omitted) field follows the server's
    default for it."""

    keep_runs: Annotated[JsonInt, Field(ge=0, le=10_000_000)] | None = None
    keep_days: Annotated[JsonNumber, Field(ge=0, le=36_500)] | None = None
    keep_last_failure: StrictBool | None = None


class UpdateDeployment(Wire):
    """Any of the create fields but ``flow_id``; ``schedule: null`` removes the schedule,
    ``retention: null`` the deployment's own retention."""

    name: Name | None = None
    description: str | None = None
    version_policy: Literal["latest", "pinned"] | None = None
    version_id: Id | None = None
    parameters: dict[str, Any] | None = None
    work_queue: Name | None = None
    tags: Tags | None = None
    paused: StrictBool | None = None
    schedule: Schedule | None = None
    retention: Retention | None = None


class EnsureDeployment(Wire):
    """``PUT flows/{id}/deployments/{name}``: what the deployment should have; an omitted
    field keeps the value an existing deployment has (a new one: queue "default", no
    schedule)."""

    schedule: Schedule | None = None
    work_queue: Name | None = None


class RunDeployment(Wire):
    parameters: dict[str, Any] = Field(default_factory=dict)
    tags: Tags | None = None
    scheduled_start: Timestamp | None = None
    #: Where the request comes from, recorded as the run's ``trigger:…`` tag.
    trigger: Literal["ui", "cli", "magic", "automation"] | None = None


class CreateBackfill(Wire):
    """``POST deployments/{id}/backfills``: the schedule's slots from ``start`` to ``end``
    (both included), or one run per value of ``parameter``; ``dry_run`` only previews."""

    start: Timestamp | None = None
    end: Timestamp | None = None
    slot_parameter: Name | None = None
    parameter: Name | None = None
    values: list[Any] | None = Field(default=None, min_length=1, max_length=10_000)
    max_concurrent: Annotated[JsonInt, Field(ge=1, le=10_000)] | None = None
    dry_run: StrictBool = False

    @model_validator(mode="after")
    def _one_kind(self) -> CreateBackfill:
        window = self.start is not None or self.end is not None
        values = self.parameter is not None or self.values is not None
        if window == values:
            raise ValueError("give either start and end, or parameter and values")
        if window and (self.start is None or self.end is None):
            raise ValueError("a window needs both start and end")
        if values and (self.parameter is None or self.values is None):
            raise ValueError("parameter and values go together")
        if values and self.slot_parameter is not None:
            raise ValueError("slot_parameter is for a window of slots")
        return self


class PruneRuns(Wire):
    """``POST retention/prune``: delete now what the retention policies let go (or, with
    ``dry_run``, only say what that would be: at most ``limit`` run ids)."""

    dry_run: StrictBool = False
    deployment_id: Id | None = None
    limit: Annotated[JsonInt, Field(ge=1, le=100_000)] = 1000


# ------------------------------------------------------------------ runs and states


class Lease(Wire):
    """What an attempt of a claimed run presents (the claim's answer gave it)."""

    flow_run_id: Id
    attempt: Annotated[JsonInt, Field(ge=1, le=1_000_000)]
    token: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ProposeState(Wire):
    type: StateType
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    message: str | None = None
    timestamp: Timestamp | None = None


class SetRunState(ProposeState):
    """``POST flow-runs/{id}/state``: an attempt of a claimed run (its agent, its process)
    sends its ``lease``; a stale one is refused (409 stale_attempt)."""

    lease: Lease | None = None


class CreateFlowRun(Wire):
    """An ad-hoc run (a ``@flow`` called in a notebook). Without ``state`` the run has no
    state until its first one is proposed (Scheduled or Pending)."""

    id: Id | None = None
    name: Name | None = None
    flow_name: Name | None = None
    flow_id: Id | None = None
    flow_version_id: Id | None = None
    deployment_id: Id | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    tags: Tags = Field(default_factory=list)
    parent_flow_run_id: Id | None = None
    parent_task_run_id: Id | None = None
    state: ProposeState | None = None

    @model_validator(mode="after")
    def _names_its_flow(self) -> CreateFlowRun:
        if not (self.flow_name or self.flow_id or self.flow_version_id or self.deployment_id):
            raise ValueError(
                "a flow run needs flow_name or flow_id (or a flow_version_id or deployment_id "
                "to find the flow by)"
            )
        return self


class CreateTaskRun(Wire):
    id: Id | None = None
    flow_run_id: Id
    name: Name | None = None
    task_key: Name
    #: parameter name -> ids of the task runs whose results it received
    task_inputs: dict[str, list[str]] = Field(default_factory=dict)
    tags: Tags = Field(default_factory=list)
    cache_key: Annotated[str, StringConstraints(max_length=200)] | None = None
    state: ProposeState | None = None


class CreateLog(Wire):
    id: Id | None = None
    flow_run_id: Id
    task_run_id: Id | None = None
    level: (
        Annotated[JsonInt, Field(ge=0, le=1000)]
        | Literal["DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"]
    ) = 20
    timestamp: Timestamp
    message: str
    name: Annotated[str, StringConstraints(max_length=200)] = ""


class IngestState(Wire):
    id: Id | None = None
    kind: Literal["flow_run", "task_run"]
    run_id: Id
    type: StateType
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    message: str | None = None
    timestamp: Timestamp | None = None


class CreateArtifact(Wire):
    """notebook: ``data.uri``; table: ``data.rows`` (a list) and ``data.columns``; link:
    ``data.url``. Other keys of ``data`` are kept as they are."""

    id: Id | None = None
    flow_run_id: Id
    task_run_id: Id | None = None
    type: Literal["notebook", "table", "link"]
    key: Name | None = None
    description: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Ingest(Wire):
    flow_runs: list[CreateFlowRun] = Field(default_factory=list)
    task_runs: list[CreateTaskRun] = Field(default_factory=list)
    states: list[IngestState] = Field(default_factory=list)
    logs: list[CreateLog] = Field(default_factory=list)
    artifacts: list[CreateArtifact] = Field(default_factory=list)
    #: The attempt the batch comes from (a run process of a claimed run): refused whole
    #: with 409 stale_attempt when that attempt no longer holds the run.
    lease: Lease | None = None


# ------------------------------------------------------------------ notebooks

CellRefs = list[Annotated[JsonInt, Field(ge=0)] | Annotated[str, StringConstraints(min_length=1)]]


#: A notebook engine's name; which exist is the engine registry's (an unknown one is a 400).
EngineName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")]


class InspectNotebook(Wire):
    """A notebook or script by ``path`` (relative to the server root), or a notebook's JSON
    (one not saved yet); ``cells``: only these (indices from 0, or ids) and what they need."""

    path: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    notebook: dict[str, Any] | None = None
    cells: CellRefs | None = None
    engine: EngineName = "kernel"
    name: Name | None = None


CREDENTIAL_NAME = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"


class RegisterNotebook(Wire):
    """Register the notebook or script at ``path`` and make (or update) its deployment."""

    path: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    cells: CellRefs | None = None
    engine: EngineName = "kernel"
    name: Name | None = None
    project: Name | None = None
    deployment: Name = "default"
    schedule: Schedule | None = None
    queue: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}$")] | None = None
    #: Capture the environment (the notebook's kernel's, else its kernel spec's) with it.
    capture_environment: StrictBool = True
    #: Credentials its runs get, by name.
    credentials: list[Annotated[str, StringConstraints(pattern=CREDENTIAL_NAME)]] = Field(
        default_factory=list
    )
    #: What the run asks for beyond the machine's defaults: cpu, memory, gpu, gpu_type, disk.
    hardware: dict[str, Any] | None = None


class CaptureEnvironment(Wire):
    """What registering the notebook at ``path`` would record as its environment."""

    path: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    name: Name | None = None
    project: Name | None = None
    credentials: list[Annotated[str, StringConstraints(pattern=CREDENTIAL_NAME)]] = Field(
        default_factory=list
    )
    hardware: dict[str, Any] | None = None


# ------------------------------------------------------------------ queues and keys


class CreateWorkQueue(Wire):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}$")]
    description: str | None = None
    tags: Tags = Field(default_factory=list)
    concurrency_limit: Annotated[JsonInt, Field(ge=0, le=1_000_000)] | None = None
    paused: StrictBool = False


class UpdateWorkQueue(Wire):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}$")] | None = None
    description: str | None = None
    tags: Tags | None = None
    concurrency_limit: Annotated[JsonInt, Field(ge=0, le=1_000_000)] | None = None
    paused: StrictBool | None = None


class CreateApiKey(Wire):
    name: Name
    role: Literal["user", "agent"] = "user"


class CreateCredential(Wire):
    """A credential's value comes only in a body (never a URL, never a query)."""

    #: Checked by the service (``credentials.check_name``), whose message says the rule.
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    value: Annotated[str, StringConstraints(min_length=1, max_length=65536)]
    #: The variable a run sees it in (default: the name upper-cased, dashes as underscores).
    env: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    #: Replace the value of an existing credential instead of refusing (409).
    replace: StrictBool = False


class RunCredentials(Wire):
    """An agent asks for its claimed run's credential values with the claim's lease."""

    lease: Lease


# ------------------------------------------------------------------ notifications


NotifyEvent = Literal["Failed", "Crashed", "TimedOut", "Completed", "Late", "Running"]


class CreateDestination(Wire):
    """A notification destination: its apprise URL is stored as a credential, never shown."""

    #: A credential's name rule; its credential is ``notify-<name>``.
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,91}[a-z0-9])?$")]
    url: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9+.-]{0,31}://", max_length=8192)
    ]
    #: Replace the URL of an existing destination (and revive it) instead of refusing (409).
    replace: StrictBool = False


class CreatePolicy(Wire):
    """Which events of a deployment's runs (or, as a default, of a flow's) go where."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}$")]
    deployment_id: Id | None = None
    flow_id: Id | None = None
    events: Annotated[list[NotifyEvent], Field(min_length=1)]
    destinations: Annotated[list[Name], Field(min_length=1)]
    running_after_seconds: Annotated[float, Field(gt=0, strict=True)] | None = None
    cooldown_seconds: Annotated[float, Field(ge=0, strict=True)] = 0.0
    enabled: StrictBool = True
    replace: StrictBool = False


class CreateAutomation(Wire):
    """When ``trigger`` happens to a deployment's run, do ``action`` (service/automations)."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}$")]
    deployment_id: Id
    trigger: dict[str, Any]
    action: dict[str, Any]
    enabled: StrictBool = True
    replace: StrictBool = False


# ------------------------------------------------------------------ agents

QueueName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}$")]
LogLevel = (
    Annotated[JsonInt, Field(ge=0, le=1000)]
    | Literal["DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"]
)


class RegisterAgent(Wire):
    name: Name
    work_queue: QueueName = "default"
    infrastructure: Annotated[str, StringConstraints(max_length=200)] | None = None


class Heartbeat(Wire):
    """``leases``: the attempts the agent is running (renewed by this heartbeat);
    ``running``: runs by id alone (their current attempt, if this agent holds it).
    ``status: "offline"`` says the agent is stopping: its claimed runs not listed go back
    to their queue."""

    leases: list[Lease] = Field(default_factory=list, max_length=10_000)
    running: list[Id] = Field(default_factory=list, max_length=10_000)
    status: Literal["online", "offline"] = "online"


class ClaimRun(Wire):
    agent_id: Id
    #: Seconds to wait for a run to become claimable (long poll); 0 answers at once.
    wait: Annotated[float, Field(ge=0, le=30)] = 0.0


class CreateAgentLog(Wire):
    level: LogLevel = 20
    timestamp: Timestamp
    message: str
    name: Annotated[str, StringConstraints(max_length=200)] = ""
