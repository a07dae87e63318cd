"""Run states: the single path by which a flow run or task run changes state.

The server is the single writer of run state and every change goes through
:func:`apply_states` (``POST …/state`` is one change, ``POST ingest`` a batch of them) and
so the store's ``propose_states``: an illegal move raises ``IllegalTransition`` before
anything is written (409 illegal_transition), a lost race ``StateConflict`` (409 conflict).
Also here: cancelling a flow run, and reading a run's state history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import FINAL_TYPES, IllegalTransition, State, StateType
from jupyter_flows.server.errors import InvalidInput, NotFound
from jupyter_flows.server.event_bus import emit, state_message
from jupyter_flows.server.service import iso, page, retries
from jupyter_flows.server.service.runs import (
    KIND_MODELS,
    Run,
    load_runs,
    one_flow_run_out,
    state_from_body,
    state_out,
)
from jupyter_flows.store import leases as store_leases
from jupyter_flows.store import notifications as store_notifications
from jupyter_flows.store import run_queries
from jupyter_flows.store import runs as store_runs
from jupyter_flows.store.errors import StoreError
from jupyter_flows.store.models import FlowRun, FlowRunState, TaskRun, TaskRunState, WorkQueue
from jupyter_flows.store.types import utcnow

if TYPE_CHECKING:
    from jupyter_flows.server.wire import ProposeState

HISTORY_MODELS = {"flow_run": FlowRunState, "task_run": TaskRunState}


def read_history(session: Session, kind: str, run_id: str, *, limit: int, offset: int) -> dict:
    model = KIND_MODELS[kind]
    run = session.get(model, run_id)
    if run is None:
        raise NotFound(f"No {kind.replace('_', ' ')} {run_id!r}")
    rows = store_runs.read_state_history(session, run)
    items = [
        {
            "type": row.type.value,
            "name": row.name,
            "message": row.message,
            "timestamp": iso(row.timestamp),
            "details": row.details or {},
        }
        for row in rows
    ]
    return page(items[offset : offset + limit], len(items), limit, offset)


def load_for_update(session: Session, kind: str, run_id: str) -> Run:
    run = load_runs_for_update(session, kind, [run_id]).get(run_id)
    if run is None:
        raise NotFound(f"No {kind.replace('_', ' ')} {run_id!r}")
    return run


def load_runs_for_update(session: Session, kind: str, run_ids: Iterable[str]) -> dict[str, Run]:
    """The runs of ``run_ids`` that exist, by id, re-read (and on PostgreSQL locked, in id
    order, so two batches that share runs cannot deadlock) for a state change."""
    runs = load_runs(session, KIND_MODELS[kind], sorted(set(run_ids)), for_update=True)
    return {run.id: run for run in runs}


@dataclass(slots=True)
class Change:
    """A state proposed for a run loaded for update (``kind`` "flow_run" or "task_run")."""

    kind: str
    run: Run
    state: State
    details: dict[str, Any] | None = None


#: Per change: the run's state after it (its answer), or the error that refused it.
ChangeOutcome = dict[str, Any] | IllegalTransition | StoreError


def apply_states(session: Session, changes: Sequence[Change]) -> list[ChangeOutcome]:
    """Propose every change; emit the applied ones (one event); answer per change.

    The store's ``propose_states`` does the work: a run's changes apply in order, each
    checked against the state the accepted ones before it left, and each run is written
    once. A refused change (``IllegalTransition``, ``StateConflict``, ``InvalidInput``)
    leaves the others alone.

    A flow run of a work queue that crashes with retries left is scheduled again at once
    (``service.retries``): that change's answer is then the Scheduled state. Such a run's
    changes are proposed one at a time, since what follows a crash depends on the retry.
    """
    retried = {
        id(c.run)
        for c in changes
        if isinstance(c.run, FlowRun)
        and c.state.type is StateType.CRASHED
        and c.run.work_queue_id is not None
    }
    entered: list[list[dict[str, Any]]] = [[] for _ in changes]
    outcomes: list[ChangeOutcome] = [{} for _ in changes]
    batch = [i for i, c in enumerate(changes) if id(c.run) not in retried]
    proposals = [_proposal(changes[i]) for i in batch]
    for i, outcome in zip(batch, store_runs.propose_states(session, proposals), strict=True):
        if isinstance(outcome, Exception):
            outcomes[i] = outcome
        else:
            entered[i].append(_row_state(outcome))
    for i, change in enumerate(changes):
        if id(change.run) not in retried:
            continue
        (outcome,) = store_runs.propose_states(session, [_proposal(change)])
        if isinstance(outcome, Exception):
            outcomes[i] = outcome
            continue
        entered[i].append(_row_state(outcome))
        run = change.run
        assert isinstance(run, FlowRun)  # only flow runs of a queue are retried
        if retries.retry_crashed(session, run, change.state.timestamp):
            out = state_out(run)
            assert out is not None
            entered[i].append(out)
    applied = [i for i, states in enumerate(entered) if states]
    for i in applied:
        outcomes[i] = entered[i][-1]
    crashed = [
        changes[i]
        for i in applied
        if isinstance(changes[i].run, FlowRun) and changes[i].state.type is StateType.CRASHED
    ]
    if crashed:
        _crash_task_runs(session, crashed)
    _enqueue_events(session, [(changes[i], entered[i]) for i in applied])
    if applied:
        places = _event_places(session, [changes[i] for i in applied])
        messages = []
        for i in applied:
            kind, run = changes[i].kind, changes[i].run
            flow_run_id, flow_id, queue = places[id(run)]
            for out in entered[i]:
                messages.append(state_message(kind, run.id, flow_run_id, flow_id, out, queue))
        emit(session, messages)
    return outcomes


def _enqueue_events(
    session: Session, applied: Sequence[tuple[Change, list[dict[str, Any]]]]
) -> None:
    """The outbox events of the flow runs' new states (Failed, Completed, …), in this
    transaction: the delivery service notifies and runs automations from them, later."""
    for change, states in applied:
        run = change.run
        if not isinstance(run, FlowRun):
            continue
        for out in states:
            event = store_notifications.event_of(out["type"], out["name"])
            if event is not None:
                store_notifications.enqueue(
                    session,
                    run,
                    event,
                    state_type=StateType(out["type"]),
                    state_name=out["name"],
                    message=out["message"],
                    occurred_at=change.state.timestamp or utcnow(),
                )


def _crash_task_runs(session: Session, crashed: Sequence[Change]) -> None:
    """A crashed attempt's unfinished task runs end Crashed with it (nothing runs them any
    more; a retry makes task runs of its own)."""
    by_run = {change.run.id: change for change in crashed}
    query = (
        sa.select(TaskRun)
        .where(
            TaskRun.flow_run_id.in_(sorted(by_run)),
            TaskRun.state_type.is_not(None),
            TaskRun.state_type.not_in(sorted(FINAL_TYPES, key=lambda t: t.value)),
        )
        .execution_options(populate_existing=True)
    )
    changes = [
        Change(
            "task_run",
            task_run,
            State(
                StateType.CRASHED,
                message="its flow run's attempt crashed",
                timestamp=by_run[task_run.flow_run_id].state.timestamp,
            ),
        )
        for task_run in session.scalars(query)
    ]
    if changes:
        apply_states(session, changes)


def apply_state(
    session: Session,
    kind: str,
    run: Run,
    state: State,
    *,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`apply_states` for one change: the run's state after it, or the error raised."""
    (outcome,) = apply_states(session, [Change(kind, run, state, details)])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _proposal(change: Change) -> store_runs.Proposal:
    return store_runs.Proposal(change.run, change.state, details=change.details)


def _row_state(row: dict[str, Any]) -> dict[str, Any]:
    """A history row as the API shows a state (``state_out``)."""
    return {
        "type": row["type"].value,
        "name": row["name"],
        "message": row["message"],
        "timestamp": iso(row["timestamp"]),
    }


def _event_places(
    session: Session, changes: Sequence[Change]
) -> dict[int, tuple[str, str | None, str | None]]:
    """(flow run id, flow id, work queue name) of each change's run, by ``id(run)``, looked
    up in at most two queries."""
    parents = {c.run.flow_run_id for c in changes if isinstance(c.run, TaskRun)}
    queue_ids = {c.run.work_queue_id for c in changes if isinstance(c.run, FlowRun)}
    queue_ids.discard(None)
    groups: dict[str, str] = {}
    if parents:
        query = sa.select(FlowRun.id, FlowRun.flow_group_id).where(FlowRun.id.in_(parents))
        with run_queries.planned_with_values(session):
            groups = {run_id: group_id for run_id, group_id in session.execute(query)}
    queues: dict[str | None, str] = {}
    if queue_ids:
        query = sa.select(WorkQueue.id, WorkQueue.name).where(WorkQueue.id.in_(queue_ids))
        queues = {queue_id: name for queue_id, name in session.execute(query)}
    places: dict[int, tuple[str, str | None, str | None]] = {}
    for change in changes:
        run = change.run
        if isinstance(run, FlowRun):
            places[id(run)] = (run.id, run.flow_group_id, queues.get(run.work_queue_id))
        else:
            places[id(run)] = (run.flow_run_id, groups.get(run.flow_run_id, ""), None)
    return places


def set_state(session: Session, kind: str, run_id: str, body: ProposeState) -> dict[str, Any]:
    run = load_for_update(session, kind, run_id)
    lease = getattr(body, "lease", None)
    if lease is not None:
        check_lease(session, lease, run if kind == "flow_run" else None)
    return {"state": apply_state(session, kind, run, state_from_body(body))}


def check_lease(session: Session, lease: Any, run: Run | None = None) -> FlowRun:
    """The leased flow run (re-read for update unless given), if ``lease`` (a wire
    ``Lease``) is its current one; else 409 stale_attempt (and 404 for an unknown run)."""
    if run is None or run.id != lease.flow_run_id:
        run = load_for_update(session, "flow_run", lease.flow_run_id)
    if run.id != lease.flow_run_id or not isinstance(run, FlowRun):
        raise InvalidInput("the lease is not for this flow run")
    store_leases.check(run, store_leases.Lease(lease.flow_run_id, lease.attempt, lease.token))
    return run


def cancel_flow_run(session: Session, flow_run_id: str) -> dict[str, Any]:
    """Scheduled and Pending runs become Cancelled, running ones Cancelling."""
    run = load_for_update(session, "flow_run", flow_run_id)
    current = run.state_type
    if current in (StateType.SCHEDULED, StateType.PENDING):
        apply_state(session, "flow_run", run, State(StateType.CANCELLED, message="cancelled"))
    elif current in (StateType.RUNNING, StateType.RETRYING):
        apply_state(
            session, "flow_run", run, State(StateType.CANCELLING, message="cancel requested")
        )
    elif current is not StateType.CANCELLING:
        raise IllegalTransition(current, StateType.CANCELLED)
    return one_flow_run_out(session, run)  # type: ignore[arg-type]


def seen_states(
    session: Session, kind: str, run_ids: Iterable[str], since: datetime | None
) -> set[tuple[str, StateType, datetime]]:
    """(run id, type, timestamp) of the history rows of ``run_ids`` (from ``since`` on)."""
    model = HISTORY_MODELS[kind]
    query = sa.select(model.run_id, model.type, model.timestamp)
    if since is not None:
        query = query.where(model.timestamp >= since)
    rows = run_queries.rows_in(session, query, model.run_id, sorted(set(run_ids)))
    return {(r[0], r[1], r[2]) for r in rows}
