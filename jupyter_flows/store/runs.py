"""Flow runs and task runs: creation, and the one function that changes their state.

Every state change of every run goes through :func:`propose_states` (:func:`propose_state`
is one proposal of it). It checks each transition against ``jupyter_flows.engine.states``,
then writes each run's new state with a guarded ``UPDATE … WHERE id = :id AND state_type =
:from AND state_seq = :seq`` and appends the history rows, in the caller's transaction. If
another writer changed a run first its UPDATE matches no row and :class:`StateConflict` is
raised (or answered, per proposal), with nothing of that run written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from jupyter_flows.engine.states import (
    FINAL_TYPES,
    IllegalTransition,
    State,
    StateType,
    check_transition,
)
from jupyter_flows.store.errors import InvalidInput, NotFound, StateConflict
from jupyter_flows.store.leases import REVOKED, REVOKING_TYPES
from jupyter_flows.store.models import (
    Deployment,
    FlowRun,
    FlowRunState,
    TaskRun,
    TaskRunState,
)
from jupyter_flows.store.types import UTC, dialect_insert, new_id, utcnow

Run = FlowRun | TaskRun
RunState = FlowRunState | TaskRunState
_HISTORY: dict[type, type[FlowRunState] | type[TaskRunState]] = {
    FlowRun: FlowRunState,
    TaskRun: TaskRunState,
}
#: Columns only propose_state may write; ``updates`` may not name them.
_STATE_COLUMNS = frozenset(
    {
        "state_type",
        "state_name",
        "state_message",
        "state_timestamp",
        "state_seq",
        "expected_start_time",
        "next_scheduled_start_time",
        "start_time",
        "end_time",
        "total_run_time",
        "run_count",
    }
)


# ------------------------------------------------------------------ the state machine


@dataclass(slots=True)
class Proposal:
    """One state proposed for one run (as loaded), with what goes with it (see
    :func:`propose_state` for ``scheduled_time``, ``details`` and ``updates``)."""

    run: Run
    state: State
    scheduled_time: datetime | None = None
    details: Mapping[str, Any] | None = None
    updates: Mapping[str, Any] | None = None


#: What :func:`propose_states` answers for each proposal: the history row it wrote (the
#: columns of a ``FlowRunState`` / ``TaskRunState`` as a dict), or the error that refused it.
Outcome = dict[str, Any] | IllegalTransition | InvalidInput | StateConflict


def propose_state(
    session: Session,
    run: Run,
    state: State | StateType,
    *,
    scheduled_time: datetime | None = None,
    details: Mapping[str, Any] | None = None,
    updates: Mapping[str, Any] | None = None,
) -> RunState:
    """Move ``run`` (as loaded) to ``state``; return the new history row (not attached to
    the session).

    - ``scheduled_time``: for a Scheduled state, when the run is due (default: the state's
      timestamp).
    - ``details``: stored with the history row (a pending reason, an agent id).
    - ``updates``: other columns of the run to set in the same guarded UPDATE (the agent
      that claimed it, the version it will run).

    Raises ``IllegalTransition`` (nothing written) if the table forbids the move, and
    :class:`StateConflict` (nothing written) if the run's state in the database is no
    longer the one ``run`` shows. Timings follow the state's timestamp: entering Running
    counts a run and sets ``start_time`` the first time; leaving Running adds to
    ``total_run_time``; entering a final state sets ``end_time`` (cleared on a re-run).
    """
    if isinstance(state, StateType):
        state = State(state)
    proposal = Proposal(run, state, scheduled_time, details, updates)
    (outcome,) = propose_states(session, [proposal])
    if isinstance(outcome, Exception):
        raise outcome
    return _HISTORY[type(run)](**outcome)


def propose_states(session: Session, proposals: Sequence[Proposal]) -> list[Outcome]:
    """:func:`propose_state` for many proposals at once; one outcome per proposal, in order.

    The proposals of one run apply in order, each checked against the state the accepted
    ones before it left; a refused one (illegal, bad input) changes nothing and the next is
    checked as if it had not been made. Each run is then written once, with its final state,
    by one guarded UPDATE (``WHERE state_seq = :seq AND state_type = :from``, the state the
    run was loaded in), the UPDATEs of all runs in one ``executemany``, and every history
    row in one more. A run whose guard fails lost a race: all of its proposals get
    :class:`StateConflict` and nothing of it is written; the other runs go in.
    """
    now = utcnow()
    chains: dict[tuple[type, str], _Chain] = {}
    outcomes: list[Outcome] = []
    for index, proposal in enumerate(proposals):
        key = (type(proposal.run), proposal.run.id)
        chain = chains.get(key)
        if chain is None:
            chain = chains[key] = _Chain(proposal.run)
        try:
            outcomes.append(chain.step(proposal, now))
        except (IllegalTransition, InvalidInput) as exc:
            outcomes.append(exc)
            continue
        chain.indices.append(index)
    moved = [chain for chain in chains.values() if chain.indices]
    if not moved:
        return outcomes
    session.flush()  # what the caller added before this (a new run) goes first
    conn = session.connection()
    lost = _write_runs(conn, moved)
    for chain in lost:
        conflict = StateConflict(chain.run.id, chain.from_type, chain.from_seq)
        for index in chain.indices:
            outcomes[index] = conflict
    written = [chain for chain in moved if chain not in lost]
    for model in _HISTORY:
        rows = [row for chain in written if chain.model is model for row in chain.rows]
        if rows:
            conn.execute(_HISTORY_INSERT[model], rows)
    for chain in written:
        for column, value in chain.values.items():
            set_committed_value(chain.run, column, value)
    return outcomes


class _Chain:
    """The accepted proposals of one run in one call, applied to a copy of its state."""

    __slots__ = ("run", "model", "from_type", "from_seq", "values", "extra", "rows", "indices")

    def __init__(self, run: Run) -> None:
        self.run = run
        self.model = type(run)
        self.from_type = run.state_type
        self.from_seq = run.state_seq
        #: The run's state columns as the accepted proposals so far leave them.
        self.values: dict[str, Any] = {name: getattr(run, name) for name in _STATE_COLUMNS}
        #: Other columns the proposals' ``updates`` set (these are in ``values`` too).
        self.extra: set[str] = set()
        self.rows: list[dict[str, Any]] = []
        self.indices: list[int] = []

    def step(self, proposal: Proposal, now: datetime) -> dict[str, Any]:
        """Check one proposal against the state so far and apply it; its history row."""
        run, state, current = self.run, proposal.state, self.values
        from_type, to_type, ts = current["state_type"], state.type, state.timestamp
        check_transition(from_type, to_type)
        if ts.tzinfo is None:
            raise InvalidInput("a state's timestamp must be timezone-aware")
        extra = dict(proposal.updates or {})
        if to_type in REVOKING_TYPES and self.model is FlowRun and "lease_token" not in extra:
            extra.update(REVOKED)  # back to its queue, or crashed: the attempt's lease ends
        forbidden = _STATE_COLUMNS.intersection(extra)
        if forbidden:
            raise InvalidInput(f"only propose_state sets {', '.join(sorted(forbidden))}")

        seq = current["state_seq"] + 1
        values: dict[str, Any] = {
            "state_type": to_type,
            "state_name": state.name,
            "state_message": state.message,
            "state_timestamp": ts,
            "state_seq": seq,
            "end_time": ts if to_type in FINAL_TYPES else None,
            "updated": now,
        }
        details = dict(proposal.details or {})
        if to_type is StateType.SCHEDULED:
            when = proposal.scheduled_time or ts
            values["next_scheduled_start_time"] = when
            details["scheduled_time"] = when.astimezone(UTC).isoformat()
        elif proposal.scheduled_time is not None:
            raise InvalidInput("scheduled_time is only for a Scheduled state")
        if current["expected_start_time"] is None:
            values["expected_start_time"] = values.get("next_scheduled_start_time", ts)
        if to_type is StateType.RUNNING:
            values["run_count"] = current["run_count"] + 1
            if current["start_time"] is None:
                values["start_time"] = ts
        if from_type is StateType.RUNNING and current["state_timestamp"] is not None:
            ran = max(0.0, (ts - current["state_timestamp"]).total_seconds())
            values["total_run_time"] = current["total_run_time"] + ran
        values.update(extra)

        current.update(values)
        self.extra.update(extra)
        row = {
            "run_id": run.id,
            "seq": seq,
            "type": to_type,
            "name": state.name,
            "message": state.message,
            "timestamp": ts,
            "details": details,
        }
        self.rows.append(row)
        return row

    def params(self) -> dict[str, Any]:
        return {"_id": self.run.id, "_seq": self.from_seq, "_from": self.from_type, **self.values}


def _write_runs(conn: sa.Connection, chains: list[_Chain]) -> list[_Chain]:
    """One guarded UPDATE per run (an executemany per statement shape); the runs that lost."""
    groups: dict[tuple[type, tuple[str, ...]], list[_Chain]] = {}
    for chain in chains:
        groups.setdefault((chain.model, tuple(sorted(chain.extra))), []).append(chain)
    lost: list[_Chain] = []
    for (model, _), members in groups.items():
        stmt = _GUARDED_UPDATE[model]
        params = [chain.params() for chain in members]
        if len(params) == 1:
            if _rowcount(conn.execute(stmt, params[0])) != 1:
                lost.append(members[0])
            continue
        # The sum of the rowcounts says whether every guard held, not which did not: in
        # that (rare) case undo the batch and write the runs one by one.
        savepoint = conn.begin_nested()
        if _rowcount(conn.execute(stmt, params)) == len(params):
            savepoint.commit()
            continue
        savepoint.rollback()
        for chain, one in zip(members, params, strict=True):
            if _rowcount(conn.execute(stmt, one)) != 1:
                lost.append(chain)
    return lost


def _rowcount(result: sa.CursorResult[Any]) -> int:
    return int(result.rowcount)


def _table(model: type[Any]) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _guarded_update(model: type[Run]) -> sa.Update:
    """``UPDATE … SET <the parameters' columns> WHERE id = :_id AND state_seq = :_seq AND
    state_type IS NOT DISTINCT FROM :_from``; the SET list comes from the parameters."""
    table = _table(model)
    state_type = table.c.state_type
    return sa.update(table).where(
        table.c.id == sa.bindparam("_id"),
        table.c.state_seq == sa.bindparam("_seq"),
        state_type.is_not_distinct_from(sa.bindparam("_from", type_=state_type.type)),
    )


_GUARDED_UPDATE: dict[type, sa.Update] = {model: _guarded_update(model) for model in _HISTORY}
_HISTORY_INSERT: dict[type, sa.Insert] = {
    model: _table(history).insert() for model, history in _HISTORY.items()
}


def set_flow_run_state(
    session: Session, flow_run_id: str, state: State | StateType, **kwargs: Any
) -> RunState:
    """Re-read the run (locking its row on PostgreSQL) and :func:`propose_state`."""
    return propose_state(session, _load_for_update(session, FlowRun, flow_run_id), state, **kwargs)


def set_task_run_state(
    session: Session, task_run_id: str, state: State | StateType, **kwargs: Any
) -> RunState:
    """Re-read the task run (locking its row on PostgreSQL) and :func:`propose_state`."""
    return propose_state(session, _load_for_update(session, TaskRun, task_run_id), state, **kwargs)


def read_state_history(session: Session, run: Run) -> list[RunState]:
    """Every state ``run`` has been in, oldest first."""
    history = _HISTORY[type(run)]
    query = sa.select(history).where(history.run_id == run.id).order_by(history.seq)
    return list(session.scalars(query))


def _load_for_update(session: Session, model: type[Run], run_id: str) -> Any:
    query = sa.select(model).where(model.id == run_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    run = session.scalars(query).one_or_none()
    if run is None:
        raise NotFound(model.__tablename__.rstrip("s").replace("_", " "), run_id)
    return run


# ------------------------------------------------------------------ creating runs


def create_flow_run(
    session: Session,
    *,
    flow_group_id: str,
    state: State | StateType = StateType.SCHEDULED,
    scheduled_time: datetime | None = None,
    name: str | None = None,
    id: str | None = None,
    flow_version_id: str | None = None,
    deployment_id: str | None = None,
    work_queue_id: str | None = None,
    parent_flow_run_id: str | None = None,
    parent_task_run_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    retries: int = 0,
    retry_delay_seconds: float = 0.0,
    idempotency_key: str | None = None,
) -> FlowRun:
    """Create a flow run in its first ``state`` (Scheduled or Pending).

    With an ``idempotency_key`` a second create with the same key (per flow group) returns
    the first run unchanged: a client can retry a create safely.
    """
    check_transition(None, _state_type(state))  # before any row is written
    run_id = id or new_id()
    row = {
        "id": run_id,
        "name": name or f"run-{run_id[-8:]}",
        "flow_group_id": flow_group_id,
        "flow_version_id": flow_version_id,
        "deployment_id": deployment_id,
        "work_queue_id": work_queue_id,
        "parent_flow_run_id": parent_flow_run_id,
        "parent_task_run_id": parent_task_run_id,
        "parameters": dict(parameters or {}),
        "tags": list(tags),
        "retries": retries,
        "retry_delay_seconds": retry_delay_seconds,
        "idempotency_key": idempotency_key,
    }
    created = _insert_new(session, FlowRun, [row], ["flow_group_id", "idempotency_key"])
    if not created:
        existing = session.scalars(
            sa.select(FlowRun).where(
                FlowRun.flow_group_id == flow_group_id,
                FlowRun.idempotency_key == idempotency_key,
            )
        ).one()
        return existing
    run = session.get_one(FlowRun, run_id)
    propose_state(session, run, state, scheduled_time=scheduled_time)
    return run


def insert_scheduled_runs(
    session: Session,
    deployment: Deployment,
    slots: Iterable[datetime],
    *,
    flow_version_id: str | None = None,
) -> list[FlowRun]:
    """Create a Scheduled run of ``deployment`` for each slot that has none yet.

    Idempotent, also between processes: each run's key is ``scheduled:<deployment>:<slot>``,
    unique per flow group, and rows are inserted with ``ON CONFLICT DO NOTHING``. Returns
    the runs this call created, in slot order.
    """
    rows: list[dict[str, Any]] = []
    for slot in sorted(set(slots)):
        if slot.tzinfo is None:
            raise InvalidInput("schedule slots must be timezone-aware")
        run_id = new_id()
        rows.append(
            {
                "id": run_id,
                "name": f"run-{run_id[-8:]}",
                "flow_group_id": deployment.flow_group_id,
                "flow_version_id": flow_version_id or deployment.pinned_version_id,
                "deployment_id": deployment.id,
                "work_queue_id": deployment.work_queue_id,
                "parent_flow_run_id": None,
                "parent_task_run_id": None,
                "parameters": dict(deployment.parameters),
                "tags": list(deployment.tags),
                "retries": 0,
                "retry_delay_seconds": 0.0,
                "idempotency_key": scheduled_run_key(deployment.id, slot),
                "expected_start_time": slot,
            }
        )
    if not rows:
        return []
    created = set(_insert_new(session, FlowRun, rows, ["flow_group_id", "idempotency_key"]))
    runs = session.scalars(
        sa.select(FlowRun).where(FlowRun.id.in_(created)).order_by(FlowRun.expected_start_time)
    ).all()
    # Each due at its slot (the row was inserted with expected_start_time = slot).
    _propose_all(
        session,
        [
            Proposal(run, State(StateType.SCHEDULED), scheduled_time=run.expected_start_time)
            for run in runs
        ],
    )
    return list(runs)


#: Every idempotency key of a run a schedule made starts so.
SCHEDULED_KEY_PREFIX = "scheduled:"


def scheduled_run_key(deployment_id: str, slot: datetime) -> str:
    return f"{_scheduled_key_prefix(deployment_id)}{slot.astimezone(UTC).isoformat()}"


def _scheduled_key_prefix(deployment_id: str) -> str:
    return f"{SCHEDULED_KEY_PREFIX}{deployment_id}:"


def read_scheduled_slots(
    session: Session, deployment_ids: Sequence[str], *, after: datetime
) -> dict[str, list[datetime]]:
    """The slots after ``after`` that already have a run made by each deployment's schedule
    (any state), ascending: where the scheduler goes on from."""
    slots: dict[str, list[datetime]] = {d: [] for d in deployment_ids}
    if not slots:
        return slots
    query = (
        sa.select(FlowRun.deployment_id, FlowRun.expected_start_time)
        .where(
            FlowRun.deployment_id.in_(list(slots)),
            FlowRun.idempotency_key.startswith(SCHEDULED_KEY_PREFIX, autoescape=True),
            FlowRun.expected_start_time > after,
        )
        .order_by(FlowRun.deployment_id, FlowRun.expected_start_time)
    )
    for deployment_id, start in session.execute(query):
        if deployment_id is not None and start is not None:
            slots[deployment_id].append(start)
    return slots


def delete_scheduled_runs(session: Session, deployment_id: str) -> int:
    """Delete the runs ``deployment``'s schedule made that never started (Scheduled or Late,
    never Running): what pausing it or changing its schedule removes. Runs asked for by hand,
    and a retry waiting in Scheduled, stay. Returns how many were deleted."""
    result = session.execute(
        sa.delete(FlowRun)
        .where(
            FlowRun.deployment_id == deployment_id,
            FlowRun.idempotency_key.startswith(
                _scheduled_key_prefix(deployment_id), autoescape=True
            ),
            FlowRun.state_type == StateType.SCHEDULED,
            FlowRun.run_count == 0,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def create_task_run(
    session: Session,
    *,
    flow_run_id: str,
    task_key: str,
    dynamic_key: str = "0",
    state: State | StateType = StateType.PENDING,
    name: str | None = None,
    id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    tags: Sequence[str] = (),
    cache_key: str | None = None,
    retries: int = 0,
    retry_delay_seconds: float = 0.0,
) -> TaskRun:
    """Create a task run; idempotent on (flow run, task key, dynamic key).

    A repeated create (a reporter retrying a batch) returns the existing task run unchanged.
    """
    check_transition(None, _state_type(state))
    run_id = id or new_id()
    row = {
        "id": run_id,
        "flow_run_id": flow_run_id,
        "task_key": task_key,
        "dynamic_key": dynamic_key,
        "name": name or (task_key if dynamic_key == "0" else f"{task_key}-{dynamic_key}"),
        "parameters": dict(parameters or {}),
        "tags": list(tags),
        "cache_key": cache_key,
        "retries": retries,
        "retry_delay_seconds": retry_delay_seconds,
    }
    if not _insert_new(session, TaskRun, [row], ["flow_run_id", "task_key", "dynamic_key"]):
        return session.scalars(
            sa.select(TaskRun).where(
                TaskRun.flow_run_id == flow_run_id,
                TaskRun.task_key == task_key,
                TaskRun.dynamic_key == dynamic_key,
            )
        ).one()
    run = session.get_one(TaskRun, run_id)
    propose_state(session, run, state)
    return run


def _propose_all(session: Session, proposals: Sequence[Proposal]) -> None:
    """:func:`propose_states`, raising the first refusal (for proposals that cannot fail
    unless something is wrong: the first state of runs just made)."""
    for outcome in propose_states(session, proposals):
        if isinstance(outcome, Exception):
            raise outcome


def _state_type(state: State | StateType) -> StateType:
    return state if isinstance(state, StateType) else state.type


def _insert_new(
    session: Session, model: type[Run], rows: list[dict[str, Any]], unique: list[str]
) -> list[str]:
    """Insert ``rows`` with no state, skipping any that clash on ``unique``; return new ids."""
    now = utcnow()
    full = [
        {
            "state_seq": 0,
            "total_run_time": 0.0,
            "run_count": 0,
            "created": now,
            "updated": now,
            **row,
        }
        for row in rows
    ]
    stmt = (
        dialect_insert(session, model)
        .values(full)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(model.id)
    )
    return list(session.scalars(stmt))
