"""Work queues by name, and their preview: the due and upcoming runs, and why due ones wait."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import StateType
from jupyter_flows.server.errors import InvalidInput, NotFound
from jupyter_flows.server.event_bus import emit, queue_changed_message
from jupyter_flows.server.service import iso, page
from jupyter_flows.server.service.runs import flow_runs_out
from jupyter_flows.store import queues as store_queues
from jupyter_flows.store.models import Agent, FlowRun, WorkQueue
from jupyter_flows.store.queues import CLAIM_MESSAGE
from jupyter_flows.store.types import utcnow

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateWorkQueue, UpdateWorkQueue


def queue_out(queue: WorkQueue) -> dict[str, Any]:
    return {
        "id": queue.id,
        "name": queue.name,
        "description": queue.description,
        "tags": queue.tag_filter,
        "concurrency_limit": queue.concurrency_limit,
        "paused": queue.paused,
        "created": iso(queue.created),
        "updated": iso(queue.updated),
    }


def _by_name(session: Session, name: str) -> WorkQueue:
    queue = store_queues.find_work_queue(session, name)
    if queue is None:
        raise NotFound(f"No work queue {name!r}")
    return queue


def create_queue(session: Session, body: CreateWorkQueue) -> dict[str, Any]:
    queue = store_queues.create_work_queue(
        session,
        body.name,
        tag_filter=body.tags,
        concurrency_limit=body.concurrency_limit,
        paused=body.paused,
        description=body.description,
    )
    return queue_out(queue)


def read_queue(session: Session, name: str) -> dict[str, Any]:
    return queue_out(_by_name(session, name))


def list_queues(session: Session, *, limit: int, offset: int) -> dict[str, Any]:
    total = session.scalar(sa.select(sa.func.count()).select_from(WorkQueue))
    queues = store_queues.read_work_queues(session, limit=limit, offset=offset)
    return page([queue_out(q) for q in queues], int(total or 0), limit, offset)


def update_queue(session: Session, name: str, body: UpdateWorkQueue) -> dict[str, Any]:
    queue = _by_name(session, name)
    changes: dict[str, Any] = {}
    for field in body.model_fields_set:
        value = getattr(body, field)
        if value is None and field in ("name", "tags", "paused"):
            raise InvalidInput(f"{field} cannot be null")
        changes["tag_filter" if field == "tags" else field] = value
    updated = store_queues.update_work_queue(session, queue.id, **changes)
    emit(session, [queue_changed_message(updated.name)])  # a limit or filter may now allow more
    return queue_out(updated)


def set_paused(session: Session, name: str, paused: bool) -> dict[str, Any]:
    queue = _by_name(session, name)
    if not paused:
        emit(session, [queue_changed_message(queue.name)])  # waiting claims try again
    return queue_out(store_queues.update_work_queue(session, queue.id, paused=paused))


def delete_queue(session: Session, name: str) -> None:
    store_queues.delete_work_queue(session, _by_name(session, name).id)


def preview(session: Session, name: str, *, limit: int, offset: int) -> dict[str, Any]:
    """The queue's Scheduled and Pending runs, soonest first; a due run that waits says why."""
    queue = _by_name(session, name)
    now = utcnow()
    where = (
        FlowRun.work_queue_id == queue.id,
        FlowRun.state_type.in_([StateType.SCHEDULED, StateType.PENDING]),
    )
    total = session.scalar(sa.select(sa.func.count()).select_from(FlowRun).where(*where))
    runs = list(
        session.scalars(
            sa.select(FlowRun)
            .where(*where)
            .order_by(FlowRun.next_scheduled_start_time, FlowRun.id)
            .limit(limit)
            .offset(offset)
        )
    )
    online, holders = _queue_facts(session, queue)
    items = []
    for run, out in zip(runs, flow_runs_out(session, runs), strict=True):
        due = run.state_type is StateType.PENDING or (
            run.next_scheduled_start_time is not None and run.next_scheduled_start_time <= now
        )
        out["due"] = due
        reason = _pending_reason(session, queue, run, online, holders) if due else None
        out["pending_reason"] = reason
        items.append(out)
    return page(items, int(total or 0), limit, offset)


def _queue_facts(session: Session, queue: WorkQueue) -> tuple[list[Agent], list[FlowRun]]:
    """The queue's online agents, and the runs holding its concurrency slots (if limited)."""
    agents = store_queues.read_agents(session, work_queue_id=queue.id)
    online = [a for a in agents if a.status == "online"]
    holders: list[FlowRun] = []
    if queue.concurrency_limit is not None:
        holders = list(
            session.scalars(
                sa.select(FlowRun)
                .where(
                    FlowRun.work_queue_id == queue.id,
                    FlowRun.state_type.in_(store_queues.ACTIVE_TYPES),
                )
                .order_by(FlowRun.start_time, FlowRun.id)
                .limit(queue.concurrency_limit + 5)
            )
        )
    return online, holders


def run_pending_reason(session: Session, run: FlowRun) -> tuple[bool, str | None]:
    """(due, reason): whether ``run`` is due, and if it is but is not running, why."""
    if run.state_type not in (StateType.SCHEDULED, StateType.PENDING):
        return False, None
    due = run.state_type is StateType.PENDING or (
        run.next_scheduled_start_time is not None and run.next_scheduled_start_time <= utcnow()
    )
    if not due:
        return False, None
    if run.work_queue_id is None:
        return True, "the run is in no work queue, so no agent will pick it up"
    queue = session.get(WorkQueue, run.work_queue_id)
    if queue is None:
        return True, "its work queue was deleted"
    online, holders = _queue_facts(session, queue)
    return True, _pending_reason(session, queue, run, online, holders)


def _pending_reason(
    session: Session,
    queue: WorkQueue,
    run: FlowRun,
    online: list[Agent],
    holders: list[FlowRun],
) -> str:
    if run.state_type is StateType.PENDING:
        agent = session.get(Agent, run.agent_id) if run.agent_id else None
        who = f"agent {agent.name!r}" if agent else "an agent"
        if agent is not None and agent.status != "online":
            return f"claimed by {who}, which has stopped; the reaper will reschedule it"
        # An agent re-states Pending with what its infrastructure says ("pod pending: …").
        detail = run.state_message if run.state_message != CLAIM_MESSAGE else None
        return f"claimed by {who}; " + (detail or "its infrastructure is starting")
    if queue.paused:
        return f"work queue {queue.name!r} is paused"
    missing = sorted(set(queue.tag_filter) - set(run.tags))
    if missing:
        return f"the run lacks tags the queue requires: {', '.join(missing)}"
    if queue.concurrency_limit is not None and len(holders) >= queue.concurrency_limit:
        names = ", ".join(f"{h.name} ({h.state_name})" for h in holders[: queue.concurrency_limit])
        return f"concurrency limit {queue.concurrency_limit} reached, held by {names}"
    if not online:
        return f"no agent is polling work queue {queue.name!r}"
    return "waiting for an agent to claim it"
