"""Agents: registration, heartbeats (which carry cancellation back), the claim of a run, and
the agents' own logs.

The claim itself is ``store.queues.claim_next_run`` (exactly once, under any number of
agents, honouring the queue's pause, tag filter and concurrency limit); :func:`claim` adds
what an agent needs to run what it claimed (the flow version's entrypoint and content, the
run config, the attempt number) and when the queue's next run is due, so a long-polling
claim (``server.dispatch``) knows how long it may wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.server.errors import Forbidden, NotFound
from jupyter_flows.server.event_bus import emit, state_message
from jupyter_flows.server.service import iso, page
from jupyter_flows.server.service.flows import version_out
from jupyter_flows.server.service.logs import level_number
from jupyter_flows.server.service.queues import run_pending_reason
from jupyter_flows.server.service.run_states import apply_state
from jupyter_flows.server.service.runs import one_flow_run_out, state_out
from jupyter_flows.store import leases as store_leases
from jupyter_flows.store import queues as store_queues
from jupyter_flows.store import run_queries
from jupyter_flows.store.models import Agent, FlowRun, FlowVersion, WorkQueue
from jupyter_flows.store.types import utcnow

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateAgentLog, Heartbeat, RegisterAgent

#: An attempt whose run is in one of these is over (cancelled before it ran, crashed or
#: rescheduled by the server): its agent stops it and reports nothing. (Completed, Failed
#: and TimedOut are the attempt's own ends: its process is finishing by itself.)
FENCED_TYPES = frozenset({StateType.CANCELLED, StateType.CRASHED, StateType.SCHEDULED})


def agent_out(session: Session, agent: Agent) -> dict[str, Any]:
    queue = session.get(WorkQueue, agent.work_queue_id) if agent.work_queue_id else None
    running = session.scalar(
        sa.select(sa.func.count()).where(
            FlowRun.agent_id == agent.id,
            FlowRun.state_type.in_(store_queues.AGENT_ACTIVE_TYPES),
        )
    )
    return {
        "id": agent.id,
        "name": agent.name,
        "work_queue": queue.name if queue else None,
        "status": agent.status,
        "last_heartbeat_at": iso(agent.last_heartbeat_at),
        "running": int(running or 0),
        "infrastructure": agent.infrastructure,
        "created": iso(agent.created),
    }


def register_agent(
    session: Session, body: RegisterAgent, *, api_key_id: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Register ``body.name`` on its queue (made if missing); (agent, created).

    ``api_key_id``: the agent key registering it. The agent is bound to that key, and no
    other agent key may act as it; a name already bound to another key (or registered
    without one) is refused to an agent key. A user key or token registers without a bond.
    """
    existing = session.scalars(sa.select(Agent).where(Agent.name == body.name)).one_or_none()
    if api_key_id is not None and existing is not None and existing.api_key_id != api_key_id:
        raise Forbidden(f"agent {body.name!r} was registered with another key")
    queue = store_queues.get_or_create_work_queue(session, body.work_queue)
    agent = store_queues.register_agent(session, body.name, work_queue_id=queue.id)
    agent.infrastructure = body.infrastructure
    if api_key_id is not None:
        agent.api_key_id = api_key_id
        session.flush()
    return agent_out(session, agent), existing is None


def read_agent(session: Session, agent_id: str) -> dict[str, Any]:
    return agent_out(session, _agent(session, agent_id))


def list_agents(session: Session, *, limit: int, offset: int) -> dict[str, Any]:
    total = session.scalar(sa.select(sa.func.count()).select_from(Agent))
    agents = session.scalars(sa.select(Agent).order_by(Agent.name).limit(limit).offset(offset))
    return page([agent_out(session, a) for a in agents], int(total or 0), limit, offset)


def _agent(session: Session, agent_id: str) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"No agent {agent_id!r}")
    return agent


def heartbeat(
    session: Session,
    agent_id: str,
    body: Heartbeat,
    *,
    lease_seconds: float = store_leases.DEFAULT_LEASE_SECONDS,
) -> dict[str, Any]:
    """Record the agent alive and renew the leases it still holds; answer which of its
    runs it must stop: ``cancel`` (a user cancelled them: stop, and report the stop) and,
    among them, ``fenced`` (this attempt is over: another attempt holds the run, or the
    server crashed or rescheduled it; stop it *without reporting anything*).

    With ``status: "offline"`` the agent is stopping: its claimed runs that it does not
    list are handed back (Pending → Scheduled) or, if they had started, crashed (and
    retried by the flow's retry policy).
    """
    now = utcnow()
    store_queues.heartbeat(session, agent_id, status=body.status, now=now)
    presented = {lease.flow_run_id: lease for lease in body.leases}
    listed = set(presented) | set(body.running)
    runs = {r.id: r for r in store_queues.read_agent_runs(session, agent_id, run_ids=list(listed))}
    fenced: set[str] = set()
    cancel: set[str] = set()
    renew: list[str] = []
    for run_id in listed:
        run = runs.get(run_id)
        lease = presented.get(run_id)
        if run is None or run.agent_id != agent_id:
            fenced.add(run_id)  # gone, or another agent's now
        elif lease is not None and not store_leases.holds(
            run, store_leases.Lease(run_id, lease.attempt, lease.token)
        ):
            fenced.add(run_id)  # a later attempt holds it, or its lease ended
        elif run.state_type in FENCED_TYPES:
            fenced.add(run_id)
        else:
            renew.append(run_id)
            if run.state_type is StateType.CANCELLING:
                cancel.add(run_id)
    store_leases.renew(session, agent_id, renew, now, lease_seconds)
    if body.status == "offline":
        for run in store_queues.read_agent_runs(session, agent_id):
            if run.id not in listed:
                release_run(session, run, "its agent went offline while it held the run")
    return {"cancel": sorted(cancel | fenced), "fenced": sorted(fenced)}


def release_run(session: Session, run: FlowRun, why: str) -> None:
    """A claimed run whose agent let go of it: Pending goes back to its queue; a started
    run is Crashed (then the retry policy applies); Cancelling ends Cancelled."""
    if run.state_type is StateType.PENDING:
        state = State(StateType.SCHEDULED, message=f"handed back: {why}")
    elif run.state_type is StateType.CANCELLING:
        state = State(StateType.CANCELLED, message=f"cancelled: {why}")
    else:
        state = State(StateType.CRASHED, message=why)
    apply_state(session, "flow_run", run, state)


@dataclass
class Claim:
    """What one claim attempt found: the run and what is needed to run it, or, if
    nothing could be claimed, when the queue's next Scheduled run is due."""

    run: dict[str, Any] | None
    next_due: datetime | None = None


def claim(
    session: Session,
    queue_name: str,
    agent_id: str,
    *,
    lease_seconds: float = store_leases.DEFAULT_LEASE_SECONDS,
) -> Claim:
    """Claim the queue's next due run for ``agent_id`` (Scheduled → Pending) as a new
    attempt with its lease, or None."""
    queue = store_queues.find_work_queue(session, queue_name)
    if queue is None:
        raise NotFound(f"No work queue {queue_name!r}")
    agent = _agent(session, agent_id)
    now = utcnow()
    run = store_queues.claim_next_run(
        session, queue.id, agent_id, now=now, lease_seconds=lease_seconds
    )
    if run is None:
        due = None
        if not queue.paused:
            due = store_queues.next_due_time(session, queue.id)
        return Claim(None, due)
    run.infrastructure = agent.infrastructure
    session.flush()
    out = one_flow_run_out(session, run)
    state = state_out(run)
    assert state is not None
    emit(session, [state_message("flow_run", run.id, run.id, run.flow_group_id, state)])
    version = session.get(FlowVersion, run.flow_version_id) if run.flow_version_id else None
    # The same JSON as GET flow-versions/{id}, so a run process reads one shape however
    # it got its version.
    out["flow_version"] = version_out(version) if version is not None else None
    run_config = (version.content or {}).get("run_config") if version is not None else None
    out["run_config"] = run_config if isinstance(run_config, dict) else {}
    out["attempt"] = run.attempt
    out["lease"] = lease_out(run)
    return Claim(out)


def lease_out(run: FlowRun) -> dict[str, Any]:
    """The lease of the run's current attempt, as its holder presents it."""
    return {
        "flow_run_id": run.id,
        "attempt": run.attempt,
        "token": run.lease_token,
        "expires_at": iso(run.lease_expires_at),
    }


def hand_back(session: Session, flow_run_id: str, agent_id: str, why: str) -> None:
    """Give a claimed run that never started back to its queue (a claim nobody received)."""
    run = run_queries.read_flow_run(session, flow_run_id)
    if run.agent_id == agent_id and run.state_type is StateType.PENDING:
        release_run(session, run, why)


def pending_reason(session: Session, flow_run_id: str) -> dict[str, Any]:
    """Whether a run is due, and if it is but is not running, why not."""
    run = run_queries.read_flow_run(session, flow_run_id)
    due, reason = run_pending_reason(session, run)
    state = state_out(run)
    return {"flow_run_id": run.id, "state": state, "due": due, "pending_reason": reason}


# ------------------------------------------------------------------ agent logs


def agent_log_out(line: Any) -> dict[str, Any]:
    return {
        "id": str(line.id),
        "agent_id": line.agent_id,
        "level": line.level,
        "timestamp": line.timestamp.isoformat(),
        "message": line.message,
        "name": line.name,
    }


def add_logs(session: Session, agent_id: str, lines: list[CreateAgentLog]) -> int:
    _agent(session, agent_id)
    rows = [
        {
            "level": level_number(line.level),
            "name": line.name,
            "message": line.message,
            "timestamp": line.timestamp,
        }
        for line in lines
    ]
    return store_queues.insert_agent_logs(session, agent_id, rows)


def read_logs(
    session: Session, agent_id: str, *, level: str | None, limit: int, offset: int
) -> dict[str, Any]:
    _agent(session, agent_id)
    lines, total = store_queues.read_agent_logs(
        session,
        agent_id,
        min_level=level_number(level) if level is not None else None,
        limit=limit,
        offset=offset,
    )
    return page([agent_log_out(line) for line in lines], total, limit, offset)
