"""The crash reaper: runs whose attempt's lease ran out become Crashed.

Each claim of a run makes an attempt holding a lease (``store.leases``) that its agent
renews with every heartbeat naming it. When a lease is not renewed for ``threshold`` (the
agent was killed, paused, cut off, or lost track of the run), the attempt is taken for
dead and its run is moved, through ``service.run_states.apply_state`` like any other change:

- Running or Retrying → Crashed, and then the flow's retry policy applies: with retries
  left the run is Scheduled again at once and any agent on its queue claims the next
  attempt (``service.retries``);
- Pending → Scheduled ("handed back"): claimed but never started, so no attempt was spent
  (a paused agent's long poll may have claimed it, the answer unread in its socket; the
  agent confirms each claim with a heartbeat before it launches, so such a claim is
  never launched late);
- Cancelling → Cancelled (the user wanted it stopped, and nothing runs it any more).

Either way the lease ends, so whatever the old attempt still sends is refused (409
stale_attempt) and its agent, heard again, is told to stop it without reporting. The
decision is the lease's alone: a heartbeat that does not name a run does not keep it
alive. Agents silent for ``threshold`` are also marked offline.

A server that just started gives every lease one ``threshold`` to be renewed first
(``started``): while it was down nobody could renew anything.

Stateless between ticks, one short transaction per run. A lease renewed in the meantime
is left alone (the run is re-read in the transaction); a run that moved meanwhile loses
nothing (the guarded state change fails and the run is skipped).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from jupyter_flows.engine.states import IllegalTransition, State, StateType
from jupyter_flows.server.background.scheduler import Publish
from jupyter_flows.server.event_bus import EVENTS_KEY
from jupyter_flows.server.service.run_states import apply_state
from jupyter_flows.store import Database
from jupyter_flows.store import leases as store_leases
from jupyter_flows.store import queues as store_queues
from jupyter_flows.store.errors import StateConflict
from jupyter_flows.store.models import Agent, FlowRun
from jupyter_flows.store.types import utcnow

log = logging.getLogger(__name__)


class Reaper:
    """Crashes runs whose lease expired; marks agents silent for ``threshold`` offline."""

    name = "reaper"

    def __init__(
        self,
        db: Database,
        threshold: timedelta = timedelta(seconds=60),
        interval: float = 5.0,
        *,
        publish: Publish | None = None,
        logger: logging.Logger | None = None,
        started: datetime | None = None,
    ) -> None:
        if threshold <= timedelta(0) or not interval > 0:
            raise ValueError("threshold and interval must be positive")
        self.db = db
        self.threshold = threshold
        self.interval = float(interval)
        self.publish = publish
        self.log = logger or log
        self.started = started

    def run_once(self, now: datetime | None = None) -> int:
        """One tick at ``now``; returns how many runs it moved."""
        now = now or utcnow()
        if self.started is not None and now < self.started + self.threshold:
            return 0  # just started: holders get one threshold to renew after the outage
        heard_before = now - self.threshold
        with self.db.read_session() as session:  # the usual case, nothing expired: no write
            expired = [run.id for run in store_leases.read_expired(session, now)]
            silent = [a.id for a in store_queues.read_silent_agents(session, heard_before)]
        moved = sum(self._expire(run_id, now) for run_id in expired)
        for agent_id in silent:
            self._offline(agent_id, heard_before)
        return moved

    def _expire(self, run_id: str, now: datetime) -> int:
        events: list[Any] = []
        with self.db.transaction() as session:
            run = session.get(FlowRun, run_id, populate_existing=True)
            if (
                run is None
                or run.lease_token is None
                or run.lease_expires_at is None
                or run.lease_expires_at >= now
                or run.state_type not in store_leases.HELD_TYPES
            ):
                return 0  # renewed, ended or moved meanwhile: not ours to reap
            why = self._why(session, run, now)
            if run.state_type is StateType.CANCELLING:
                state = State(StateType.CANCELLED, message=f"cancelled: {why}", timestamp=now)
            elif run.state_type is StateType.PENDING:
                # Claimed but never taken up (the claim's answer may sit unread in a paused
                # agent's socket): nothing ran, so the run goes back to its queue.
                message = f"handed back: {why}"
                state = State(StateType.SCHEDULED, message=message, timestamp=now)
            else:
                state = State(StateType.CRASHED, message=why, timestamp=now)
            try:
                apply_state(session, "flow_run", run, state)
            except (StateConflict, IllegalTransition):
                return 0  # moved meanwhile (it ended, or was claimed again)
            events = session.info.pop(EVENTS_KEY, [])
        self.log.warning("jupyter-flows reaper: flow run %s: %s", run_id, why)
        if self.publish is not None:
            for event in events:
                self.publish(event)
        return 1

    def _why(self, session: Any, run: FlowRun, now: datetime) -> str:
        agent = session.get(Agent, run.agent_id) if run.agent_id else None
        if agent is None:
            return f"the lease of attempt {run.attempt} expired and its agent is gone"
        silent = (now - agent.last_heartbeat_at).total_seconds()
        if silent >= self.threshold.total_seconds():
            return f"its agent {agent.name!r} stopped heartbeating ({silent:.0f} s silent)"
        assert run.lease_expires_at is not None
        late = (now - run.lease_expires_at).total_seconds()
        return (
            f"its agent {agent.name!r} stopped renewing the lease of attempt {run.attempt}"
            f" (expired {late:.0f} s ago)"
        )

    def _offline(self, agent_id: str, heard_before: datetime) -> None:
        with self.db.transaction() as session:
            agent = session.get(Agent, agent_id, populate_existing=True)
            if agent is None or agent.status != "online" or agent.last_heartbeat_at >= heard_before:
                return  # gone, or back
            store_queues.set_agent_status(session, agent_id, "offline")
        self.log.warning("jupyter-flows reaper: agent %s went silent; marked offline", agent_id)
