"""Work queues, agents, and the exactly-once claim of a due run by an agent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.store.errors import Conflict, InvalidInput, NotFound, StateConflict
from jupyter_flows.store.leases import DEFAULT_LEASE_SECONDS, HELD_TYPES, grant
from jupyter_flows.store.models import Agent, AgentLogLine, FlowRun, WorkQueue
from jupyter_flows.store.runs import propose_state
from jupyter_flows.store.types import dialect_insert, json_contains_all, new_id, utcnow

#: A run in one of these holds one of its queue's concurrency slots.
ACTIVE_TYPES = (StateType.PENDING, StateType.RUNNING, StateType.CANCELLING)
#: The message of the Pending state a claim writes.
CLAIM_MESSAGE = "claimed by an agent"
#: How many candidates a SQLite claim looks at before giving up for this poll.
_SQLITE_CANDIDATES = 16
_QUEUE_UPDATABLE = frozenset({"name", "description", "tag_filter", "concurrency_limit", "paused"})


# ------------------------------------------------------------------ work queues


def create_work_queue(
    session: Session,
    name: str,
    *,
    tag_filter: Sequence[str] = (),
    concurrency_limit: int | None = None,
    paused: bool = False,
    description: str | None = None,
) -> WorkQueue:
    if find_work_queue(session, name) is not None:
        raise Conflict(f"a work queue named {name!r} already exists")
    _check_limit(concurrency_limit)
    queue = WorkQueue(
        name=name,
        tag_filter=sorted(set(tag_filter)),
        concurrency_limit=concurrency_limit,
        paused=paused,
        description=description,
    )
    session.add(queue)
    session.flush()
    return queue


def get_or_create_work_queue(session: Session, name: str) -> WorkQueue:
    """The queue called ``name``, created with default settings if missing (race-safe)."""
    now = utcnow()
    session.execute(
        dialect_insert(session, WorkQueue)
        .values(id=new_id(), name=name, tag_filter=[], paused=False, created=now, updated=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.scalars(sa.select(WorkQueue).where(WorkQueue.name == name)).one()


def read_work_queue(session: Session, work_queue_id: str) -> WorkQueue:
    queue = session.get(WorkQueue, work_queue_id)
    if queue is None:
        raise NotFound("work queue", work_queue_id)
    return queue


def find_work_queue(session: Session, name: str) -> WorkQueue | None:
    return session.scalars(sa.select(WorkQueue).where(WorkQueue.name == name)).one_or_none()


def read_work_queues(session: Session, *, limit: int = 100, offset: int = 0) -> list[WorkQueue]:
    query = sa.select(WorkQueue).order_by(WorkQueue.name).limit(limit).offset(offset)
    return list(session.scalars(query))


def update_work_queue(session: Session, work_queue_id: str, **changes: Any) -> WorkQueue:
    unknown = set(changes) - _QUEUE_UPDATABLE
    if unknown:
        raise InvalidInput(f"cannot update work queue fields: {', '.join(sorted(unknown))}")
    queue = read_work_queue(session, work_queue_id)
    if (
        "name" in changes
        and changes["name"] != queue.name
        and find_work_queue(session, changes["name"])
    ):
        raise Conflict(f"a work queue named {changes['name']!r} already exists")
    if "concurrency_limit" in changes:
        _check_limit(changes["concurrency_limit"])
    if "tag_filter" in changes:
        changes["tag_filter"] = sorted(set(changes["tag_filter"]))
    for key, value in changes.items():
        setattr(queue, key, value)
    session.flush()
    return queue


def delete_work_queue(session: Session, work_queue_id: str) -> bool:
    """Delete a queue; its runs and agents stay, with no queue."""
    result = session.execute(sa.delete(WorkQueue).where(WorkQueue.id == work_queue_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def count_active_runs(session: Session, work_queue_id: str) -> int:
    """Runs of the queue holding a concurrency slot (Pending, Running or Cancelling)."""
    query = sa.select(sa.func.count()).where(
        FlowRun.work_queue_id == work_queue_id, FlowRun.state_type.in_(ACTIVE_TYPES)
    )
    return int(session.scalar(query) or 0)


def read_active_runs(session: Session, work_queue_id: str) -> list[FlowRun]:
    """The runs holding the queue's slots, oldest claim first (to name them in a reason)."""
    query = (
        sa.select(FlowRun)
        .where(FlowRun.work_queue_id == work_queue_id, FlowRun.state_type.in_(ACTIVE_TYPES))
        .order_by(FlowRun.state_timestamp, FlowRun.id)
    )
    return list(session.scalars(query))


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise InvalidInput("a concurrency limit cannot be negative")


# ------------------------------------------------------------------ agents


def register_agent(
    session: Session, name: str, *, work_queue_id: str | None = None, now: datetime | None = None
) -> Agent:
    """Create the agent ``name``, or bring an existing one back online on ``work_queue_id``."""
    now = now or utcnow()
    agent = session.scalars(sa.select(Agent).where(Agent.name == name)).one_or_none()
    if agent is None:
        agent = Agent(name=name, created=now)
        session.add(agent)
    agent.work_queue_id = work_queue_id
    agent.status = "online"
    agent.last_heartbeat_at = now
    session.flush()
    return agent


def heartbeat(
    session: Session, agent_id: str, *, status: str = "online", now: datetime | None = None
) -> None:
    """Record that the agent is alive (or, with ``status="offline"``, that it stopped)."""
    if status not in ("online", "offline"):
        raise InvalidInput("an agent's status is 'online' or 'offline'")
    result = session.execute(
        sa.update(Agent)
        .where(Agent.id == agent_id)
        .values(last_heartbeat_at=now or utcnow(), status=status)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound("agent", agent_id)


def read_agent(session: Session, agent_id: str) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("agent", agent_id)
    return agent


def read_agents(session: Session, *, work_queue_id: str | None = None) -> list[Agent]:
    query = sa.select(Agent).order_by(Agent.name)
    if work_queue_id is not None:
        query = query.where(Agent.work_queue_id == work_queue_id)
    return list(session.scalars(query))


def read_silent_agents(session: Session, heard_before: datetime) -> list[Agent]:
    """Online agents not heard from since ``heard_before`` (the reaper's input)."""
    query = sa.select(Agent).where(Agent.status == "online", Agent.last_heartbeat_at < heard_before)
    return list(session.scalars(query.order_by(Agent.name)))


def set_agent_status(session: Session, agent_id: str, status: str) -> None:
    """Mark an agent online or offline without touching its last heartbeat (the reaper)."""
    session.execute(
        sa.update(Agent)
        .where(Agent.id == agent_id)
        .values(status=status)
        .execution_options(synchronize_session="fetch")
    )


#: A run an agent is working on is in one of these (Retrying: between in-process attempts).
AGENT_ACTIVE_TYPES = HELD_TYPES


def read_agent_runs(
    session: Session, agent_id: str, *, run_ids: Sequence[str] | None = None
) -> list[FlowRun]:
    """The runs ``agent_id`` claimed that are not final yet (or those of ``run_ids``)."""
    query = sa.select(FlowRun).execution_options(populate_existing=True)
    if run_ids is None:
        query = query.where(
            FlowRun.agent_id == agent_id, FlowRun.state_type.in_(AGENT_ACTIVE_TYPES)
        )
    else:
        query = query.where(FlowRun.id.in_(list(run_ids)))
    return list(session.scalars(query.order_by(FlowRun.state_timestamp, FlowRun.id)))


def next_due_time(session: Session, work_queue_id: str) -> datetime | None:
    """When the queue's earliest Scheduled run is due (None if it has none)."""
    query = sa.select(sa.func.min(FlowRun.next_scheduled_start_time)).where(
        FlowRun.work_queue_id == work_queue_id, FlowRun.state_type == StateType.SCHEDULED
    )
    return session.scalar(query)


def insert_agent_logs(session: Session, agent_id: str, lines: Sequence[dict[str, Any]]) -> int:
    """Store an agent's own log lines (``level``, ``name``, ``message``, ``timestamp``)."""
    if not lines:
        return 0
    rows = [
        {
            "agent_id": agent_id,
            "level": int(line.get("level", 20)),
            "name": str(line.get("name") or "")[:200],
            "message": str(line["message"]),
            "timestamp": line["timestamp"],
        }
        for line in lines
    ]
    session.execute(sa.insert(AgentLogLine), rows)
    return len(rows)


def read_agent_logs(
    session: Session,
    agent_id: str,
    *,
    min_level: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AgentLogLine], int]:
    """An agent's log lines, oldest first, and how many match in all."""
    where = [AgentLogLine.agent_id == agent_id]
    if min_level is not None:
        where.append(AgentLogLine.level >= min_level)
    total = session.scalar(sa.select(sa.func.count()).select_from(AgentLogLine).where(*where))
    query = (
        sa.select(AgentLogLine)
        .where(*where)
        .order_by(AgentLogLine.timestamp, AgentLogLine.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query)), int(total or 0)


# ------------------------------------------------------------------ the claim


def claim_next_run(
    session: Session,
    work_queue_id: str,
    agent_id: str,
    *,
    now: datetime | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> FlowRun | None:
    """Claim the next due Scheduled (or Late) run of a queue for an agent: move it to
    Pending with ``agent_id`` set, as a new attempt holding a lease of ``lease_seconds``
    (``store.leases``), and return it; None if nothing may be claimed now.

    Honours the queue's paused flag, its tag filter (the run must carry every tag) and its
    concurrency limit. Exactly once, under any number of concurrent claimers: the run's
    move to Pending is :func:`runs.propose_state`'s guarded UPDATE, and

    - on PostgreSQL the candidate is picked with ``FOR UPDATE SKIP LOCKED``, so concurrent
      claimers take different runs without waiting; a queue with a concurrency limit is
      also locked (``FOR NO KEY UPDATE``) so two claimers cannot both take its last slot;
    - on SQLite the first statement is a write (the agent's heartbeat), so even in a
      deferred transaction the claim holds the database's write lock before it reads.

    Call it at the start of a transaction (a fresh ``Database.session()``) and commit.
    The agent's heartbeat is refreshed as a side effect: polling is a sign of life.
    """
    now = now or utcnow()
    postgres = session.get_bind().dialect.name == "postgresql"
    heartbeat(session, agent_id, now=now)
    queue = session.scalars(
        sa.select(WorkQueue)
        .where(WorkQueue.id == work_queue_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if queue is None:
        raise NotFound("work queue", work_queue_id)
    if queue.paused:
        return None
    if queue.concurrency_limit is not None:
        if postgres:
            session.execute(
                sa.select(WorkQueue.id)
                .where(WorkQueue.id == work_queue_id)
                .with_for_update(key_share=True)
            )
        if count_active_runs(session, work_queue_id) >= queue.concurrency_limit:
            return None

    dialect = "postgresql" if postgres else "sqlite"
    query = (
        sa.select(FlowRun)
        .where(
            FlowRun.work_queue_id == work_queue_id,
            FlowRun.state_type == StateType.SCHEDULED,
            FlowRun.next_scheduled_start_time <= now,
            json_contains_all(FlowRun.tags, queue.tag_filter, dialect),
        )
        .order_by(FlowRun.next_scheduled_start_time, FlowRun.id)
        .execution_options(populate_existing=True)
    )
    if postgres:
        query = query.limit(1).with_for_update(skip_locked=True, of=FlowRun)
    else:
        query = query.limit(_SQLITE_CANDIDATES)
    for run in session.scalars(query).all():
        try:
            propose_state(
                session,
                run,
                State(StateType.PENDING, message=CLAIM_MESSAGE, timestamp=now),
                details={"agent_id": agent_id, "attempt": run.attempt + 1},
                updates={"agent_id": agent_id, **grant(run.attempt, now, lease_seconds)},
            )
        except StateConflict:
            continue  # another claimer won this one; try the next
        return run
    return None
