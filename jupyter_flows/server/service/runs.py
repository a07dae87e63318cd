"""Flow runs and task runs: creating them and reading them (their states: ``run_states``).

Creation is shared by ``POST flow-runs`` / ``POST task-runs`` (one body, errors raised)
and ``POST ingest`` (many bodies in one statement, errors collected per item). Runs are
idempotent on their id: a body whose id exists is skipped. A run created without a
``state`` has none until its first state (Scheduled or Pending) is proposed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import INITIAL_TYPES, IllegalTransition, State
from jupyter_flows.server.errors import Conflict, FlowsError, InvalidInput, NotFound
from jupyter_flows.server.event_bus import emit, flow_run_message, task_run_message
from jupyter_flows.server.service import iso, page
from jupyter_flows.store import flows as store_flows
from jupyter_flows.store import run_queries
from jupyter_flows.store import runs as store_runs
from jupyter_flows.store.models import Deployment, FlowGroup, FlowRun, TaskRun, WorkQueue
from jupyter_flows.store.types import dialect_insert, new_id, utcnow

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateFlowRun, CreateTaskRun, ProposeState

Run = FlowRun | TaskRun
KIND_MODELS: dict[str, type[FlowRun] | type[TaskRun]] = {
    "flow_run": FlowRun,
    "task_run": TaskRun,
}


# ------------------------------------------------------------------ answers


def state_out(run: Run) -> dict[str, Any] | None:
    if run.state_type is None:
        return None
    return {
        "type": run.state_type.value,
        "name": run.state_name,
        "message": run.state_message,
        "timestamp": iso(run.state_timestamp),
    }


#: The tag a run requested from the lab, the CLI or the magic carries (``trigger:ui``):
#: ``POST deployments/{id}/runs`` with ``trigger`` adds it.
TRIGGER_TAG = "trigger:"
#: The tag of a run that reruns another (``rerun-of:<flow run id>``), as the engine reads it.
RERUN_TAG = "rerun-of:"
#: What ``trigger`` a client may say it is.
REQUESTED_TRIGGERS = ("ui", "cli", "magic", "automation")


def trigger_of(run: FlowRun) -> str:
    """How a run came to be, from what its row records: a backfill made it, or a
    schedule's slot (its idempotency key), a rerun (its ``rerun-of:`` tag), a request that
    said where it came from (``trigger:…``), a subflow call; else a deployment run asked
    for through the API, or a flow called in a process ("ad hoc", no deployment)."""
    if run.backfill_id:
        return "backfill"
    if (run.idempotency_key or "").startswith(store_runs.SCHEDULED_KEY_PREFIX):
        return "schedule"
    tags = run.tags or []
    if any(tag.startswith(RERUN_TAG) for tag in tags):
        return "rerun"
    for tag in tags:
        if tag.startswith(TRIGGER_TAG) and tag[len(TRIGGER_TAG) :] in REQUESTED_TRIGGERS:
            return tag[len(TRIGGER_TAG) :]
    if run.parent_flow_run_id:
        return "subflow"
    return "api" if run.deployment_id else "ad hoc"


def flow_run_out(run: FlowRun, flow_name: str | None, queue_name: str | None) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "flow_id": run.flow_group_id,
        "flow_name": flow_name,
        "flow_version_id": run.flow_version_id,
        "deployment_id": run.deployment_id,
        "parameters": run.parameters,
        "tags": run.tags,
        "state": state_out(run),
        "run_count": run.run_count,
        "attempt": run.attempt,
        "expected_start_time": iso(run.expected_start_time),
        "start_time": iso(run.start_time),
        "end_time": iso(run.end_time),
        "total_run_time": run.total_run_time,
        "parent_flow_run_id": run.parent_flow_run_id,
        "parent_task_run_id": run.parent_task_run_id,
        "work_queue": queue_name,
        "agent_id": run.agent_id,
        "infrastructure": run.infrastructure,
        "backfill_id": run.backfill_id,
        "trigger": trigger_of(run),
        "created": iso(run.created),
        "updated": iso(run.updated),
    }


def task_run_out(run: TaskRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "flow_run_id": run.flow_run_id,
        "name": run.name,
        "task_key": run.task_key,
        # The store's ``parameters`` column of a task run holds its task inputs.
        "task_inputs": run.parameters,
        "tags": run.tags,
        "cache_key": run.cache_key,
        "state": state_out(run),
        "run_count": run.run_count,
        "start_time": iso(run.start_time),
        "end_time": iso(run.end_time),
        "total_run_time": run.total_run_time,
        "created": iso(run.created),
        "updated": iso(run.updated),
    }


def flow_runs_out(session: Session, runs: Sequence[FlowRun]) -> list[dict[str, Any]]:
    """Answers for ``runs``, with flow and queue names looked up in two queries."""
    group_ids = {r.flow_group_id for r in runs}
    queue_ids = {r.work_queue_id for r in runs if r.work_queue_id}
    groups: dict[str, str] = {
        gid: name
        for gid, name in session.execute(
            sa.select(FlowGroup.id, FlowGroup.name).where(FlowGroup.id.in_(group_ids))
        )
    }
    queues: dict[str, str] = {}
    if queue_ids:
        queues = {
            qid: name
            for qid, name in session.execute(
                sa.select(WorkQueue.id, WorkQueue.name).where(WorkQueue.id.in_(queue_ids))
            )
        }
    return [
        flow_run_out(r, groups.get(r.flow_group_id), queues.get(r.work_queue_id or ""))
        for r in runs
    ]


def one_flow_run_out(session: Session, run: FlowRun) -> dict[str, Any]:
    return flow_runs_out(session, [run])[0]


# ------------------------------------------------------------------ reading


def read_flow_run(session: Session, flow_run_id: str) -> dict[str, Any]:
    return one_flow_run_out(session, run_queries.read_flow_run(session, flow_run_id))


def list_flow_runs(
    session: Session,
    flt: run_queries.FlowRunFilter,
    *,
    limit: int,
    offset: int,
    sort: run_queries.FlowRunSort = "expected_start_desc",
) -> dict[str, Any]:
    runs = run_queries.read_flow_runs(session, flt, limit=limit, offset=offset, sort=sort)
    total = run_queries.count_flow_runs(session, flt)
    return page(flow_runs_out(session, runs), total, limit, offset)


def read_task_run(session: Session, task_run_id: str) -> dict[str, Any]:
    return task_run_out(run_queries.read_task_run(session, task_run_id))


def list_task_runs(session: Session, flow_run_id: str, *, limit: int, offset: int) -> dict:
    run_queries.read_flow_run(session, flow_run_id)
    runs = run_queries.read_task_runs(session, flow_run_id, limit=limit, offset=offset)
    total = session.scalar(
        sa.select(sa.func.count()).select_from(TaskRun).where(TaskRun.flow_run_id == flow_run_id)
    )
    return page([task_run_out(r) for r in runs], int(total or 0), limit, offset)


def delete_flow_run(session: Session, flow_run_id: str) -> None:
    if not run_queries.delete_flow_run(session, flow_run_id):
        raise NotFound(f"No flow run {flow_run_id!r}")


# ------------------------------------------------------------------ creating


@dataclass
class Rejections:
    """Items of a batch refused one by one (``rejected`` in the ingest answer)."""

    kind: str
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, index: int, error: str, message: str) -> None:
        self.items.append({"kind": self.kind, "index": index, "error": error, "message": message})


def error_code(exc: Exception) -> str:
    if isinstance(exc, IllegalTransition):
        return "illegal_transition"
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    if isinstance(exc, LookupError):
        return "not_found"
    return "invalid_input"


def _existing_ids(session: Session, model: type[Run], ids: Iterable[str]) -> set[str]:
    query = sa.select(model.id)
    return {row[0] for row in run_queries.rows_in(session, query, model.id, sorted(set(ids)))}


def _insert(session: Session, model: type[Run], rows: list[dict[str, Any]]) -> None:
    """Insert runs with no state yet; a row whose id exists is skipped."""
    if not rows:
        return
    now = utcnow()
    defaults = {
        "state_seq": 0,
        "total_run_time": 0.0,
        "run_count": 0,
        "retries": 0,
        "retry_delay_seconds": 0.0,
        "created": now,
        "updated": now,
    }
    stmt = dialect_insert(session, model).on_conflict_do_nothing(index_elements=["id"])
    session.execute(stmt, [{**defaults, **row} for row in rows])


def _initial_state(body_state: ProposeState | None) -> State | None:
    if body_state is None:
        return None
    if body_state.type not in INITIAL_TYPES:
        raise IllegalTransition(None, body_state.type)
    return state_from_body(body_state)


def state_from_body(body: Any) -> State:
    return State(body.type, body.name, body.message, timestamp=body.timestamp or utcnow())


class _FlowRunResolver:
    """Checks one create body and makes its row; caches what a batch looks up often."""

    def __init__(self, session: Session, batch_ids: set[str]) -> None:
        self.session = session
        self.batch_ids = batch_ids  # runs created earlier in this batch
        self.groups: dict[str, FlowGroup] = {}
        self.group_by_name: dict[str, FlowGroup] = {}

    def group(self, flow_id: str) -> FlowGroup:
        if flow_id not in self.groups:
            self.groups[flow_id] = store_flows.read_flow_group(self.session, flow_id)
        return self.groups[flow_id]

    def row(self, body: CreateFlowRun) -> dict[str, Any]:
        session = self.session
        version = deployment = None
        if body.flow_version_id is not None:
            version = store_flows.read_flow_version(session, body.flow_version_id)
        if body.deployment_id is not None:
            deployment = session.get(Deployment, body.deployment_id)
            if deployment is None:
                raise NotFound(f"No deployment {body.deployment_id!r}")
        if body.flow_id is not None:
            group = self.group(body.flow_id)
        elif version is not None:
            group = self.group(version.flow_group_id)
        elif deployment is not None:
            group = self.group(deployment.flow_group_id)
        elif body.flow_name is not None:
            if body.flow_name not in self.group_by_name:
                self.group_by_name[body.flow_name] = store_flows.get_or_create_flow_group(
                    session, "default", body.flow_name
                )
            group = self.group_by_name[body.flow_name]
            self.groups[group.id] = group
        else:
            raise InvalidInput("a flow run needs flow_name or flow_id")
        if body.flow_id is not None and body.flow_name not in (None, group.name):
            raise InvalidInput(
                f"flow {body.flow_id!r} is named {group.name!r}, not {body.flow_name!r}"
            )
        for other, what in ((version, "flow version"), (deployment, "deployment")):
            if other is not None and other.flow_group_id != group.id:
                raise InvalidInput(f"the {what} is not of flow {group.name!r}")
        parent = body.parent_flow_run_id
        if (
            parent is not None
            and parent not in self.batch_ids
            and session.get(FlowRun, parent) is None
        ):
            raise NotFound(f"No flow run {parent!r} (parent_flow_run_id)")
        run_id = body.id or new_id()
        return {
            "id": run_id,
            "name": body.name or f"run-{run_id[-8:]}",
            "flow_group_id": group.id,
            "flow_version_id": body.flow_version_id,
            "deployment_id": body.deployment_id,
            "work_queue_id": deployment.work_queue_id if deployment else None,
            "parent_flow_run_id": parent,
            "parent_task_run_id": body.parent_task_run_id,
            "parameters": body.parameters,
            "tags": list(body.tags),
        }


def create_flow_runs(
    session: Session, bodies: Sequence[CreateFlowRun], rejections: Rejections | None = None
) -> list[FlowRun]:
    """Create the runs ``bodies`` describe; return those this call created.

    With ``rejections`` a body that cannot be created is listed there and the others go on;
    without, its error is raised. Bodies whose id exists already are skipped.
    """
    return _create_flow_runs(session, bodies, rejections)[0]


def _create_flow_runs(
    session: Session, bodies: Sequence[CreateFlowRun], rejections: Rejections | None = None
) -> tuple[list[FlowRun], list[dict[str, Any]]]:
    """:func:`create_flow_runs`, with the answers for the runs it created."""
    existing = _existing_ids(session, FlowRun, (b.id for b in bodies if b.id))
    resolver = _FlowRunResolver(session, set())
    rows, states = [], {}
    for index, body in enumerate(bodies):
        if body.id in existing or body.id in resolver.batch_ids:
            continue
        try:
            state = _initial_state(body.state)
            row = resolver.row(body)
        except (IllegalTransition, FlowsError, LookupError, ValueError) as exc:
            if rejections is None:
                raise
            rejections.add(index, error_code(exc), str(exc))
            continue
        resolver.batch_ids.add(row["id"])
        rows.append(row)
        if state is not None:
            states[row["id"]] = state
    _insert(session, FlowRun, rows)
    created = load_runs(session, FlowRun, [r["id"] for r in rows])
    _first_states(session, created, states)
    outs = flow_runs_out(session, created) if created else []
    if outs:
        emit(session, [flow_run_message(o) for o in outs])
    return created, outs


def create_flow_run(session: Session, body: CreateFlowRun) -> tuple[dict[str, Any], bool]:
    """One run; (answer, created). An id that exists answers that run (409 if another flow)."""
    if body.id is not None:
        run = session.get(FlowRun, body.id)
        if run is not None:
            if body.flow_id not in (None, run.flow_group_id):
                raise Conflict(f"flow run {body.id!r} exists, of another flow")
            return one_flow_run_out(session, run), False
    _, outs = _create_flow_runs(session, [body])
    return outs[0], True


def create_task_runs(
    session: Session,
    bodies: Sequence[CreateTaskRun],
    rejections: Rejections | None = None,
) -> list[TaskRun]:
    existing = _existing_ids(session, TaskRun, (b.id for b in bodies if b.id))
    flow_runs = {
        run.id: run for run in load_runs(session, FlowRun, {b.flow_run_id for b in bodies})
    }
    rows, states, batch_ids = [], {}, set()
    for index, body in enumerate(bodies):
        if body.id in existing or body.id in batch_ids:
            continue
        try:
            if body.flow_run_id not in flow_runs:
                raise NotFound(f"No flow run {body.flow_run_id!r}")
            state = _initial_state(body.state)
        except (IllegalTransition, FlowsError) as exc:
            if rejections is None:
                raise
            rejections.add(index, error_code(exc), str(exc))
            continue
        run_id = body.id or new_id()
        batch_ids.add(run_id)
        rows.append(
            {
                "id": run_id,
                "flow_run_id": body.flow_run_id,
                "task_key": body.task_key,
                # Every call of a task is its own run: the id tells calls apart.
                "dynamic_key": run_id,
                "name": body.name or body.task_key,
                "parameters": body.task_inputs,
                "tags": list(body.tags),
                "cache_key": body.cache_key,
            }
        )
        if state is not None:
            states[run_id] = state
    _insert(session, TaskRun, rows)
    created = load_runs(session, TaskRun, [r["id"] for r in rows])
    _first_states(session, created, states)
    if created:
        messages = [
            task_run_message(task_run_out(r), flow_runs[r.flow_run_id].flow_group_id)
            for r in created
        ]
        emit(session, messages)
    return created


def create_task_run(session: Session, body: CreateTaskRun) -> tuple[dict[str, Any], bool]:
    if body.id is not None:
        run = session.get(TaskRun, body.id)
        if run is not None:
            if run.flow_run_id != body.flow_run_id:
                raise Conflict(f"task run {body.id!r} exists, in another flow run")
            return task_run_out(run), False
    return task_run_out(create_task_runs(session, [body])[0]), True


def _first_states(session: Session, created: Sequence[Run], states: dict[str, State]) -> None:
    """The first state of each run just made that has one (checked legal already)."""
    proposals = [store_runs.Proposal(run, states[run.id]) for run in created if run.id in states]
    for outcome in store_runs.propose_states(session, proposals):
        if isinstance(outcome, Exception):
            raise outcome


def load_runs(
    session: Session, model: type[Run], ids: Iterable[str], *, for_update: bool = False
) -> list[Any]:
    """The runs of ``ids`` that exist, in that order, re-read from the database.

    ``for_update``: locked (on PostgreSQL) in the order given, so callers that lock the
    same runs in the same (sorted) order cannot deadlock.
    """
    wanted = list(dict.fromkeys(ids))
    query = sa.select(model).execution_options(populate_existing=True)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.order_by(model.id).with_for_update()
    found = {row[0].id: row[0] for row in run_queries.rows_in(session, query, model.id, wanted)}
    return [found[i] for i in wanted if i in found]
