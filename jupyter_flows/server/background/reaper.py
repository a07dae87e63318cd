"""The crash reaper: runs of agents that stopped heartbeating become Crashed.

An agent heartbeats every few seconds while it lives (a claim counts as one). When an
online agent has not been heard from for ``threshold``, it is taken for dead (killed, its
machine gone, cut off): each run it claimed that has not ended is moved, through
``service.run_states.apply_state`` like any other change,

- Pending, Running or Retrying → Crashed ("its agent … stopped heartbeating"), and then the
  flow's retry policy applies: with retries left the run is Scheduled again at once and any
  agent on its queue claims the next attempt (``service.retries``);
- Cancelling → Cancelled (the user wanted it stopped, and nothing runs it any more);

and the agent is marked offline. A run whose own process died while its agent lives is the
agent's to report (it sees the exit code); the reaper is for the agent itself going silent.

Stateless between ticks, one short transaction per silent agent. An agent that heartbeats
again in the meantime is left alone (it is re-read in the transaction); a run that moved
meanwhile loses nothing (the guarded state change fails and the run is skipped).
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
from jupyter_flows.store import queues as store_queues
from jupyter_flows.store.errors import StateConflict
from jupyter_flows.store.models import Agent
from jupyter_flows.store.types import utcnow

log = logging.getLogger(__name__)


class Reaper:
    """Crashes the unfinished runs of agents silent for longer than ``threshold``."""

    name = "reaper"

    def __init__(
        self,
        db: Database,
        threshold: timedelta = timedelta(seconds=60),
        interval: float = 5.0,
        *,
        publish: Publish | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if threshold <= timedelta(0) or not interval > 0:
            raise ValueError("threshold and interval must be positive")
        self.db = db
        self.threshold = threshold
        self.interval = float(interval)
        self.publish = publish
        self.log = logger or log

    def run_once(self, now: datetime | None = None) -> int:
        """One tick at ``now``; returns how many runs it moved."""
        now = now or utcnow()
        heard_before = now - self.threshold
        with self.db.read_session() as session:  # the usual case, nobody silent: no write
            silent = [a.id for a in store_queues.read_silent_agents(session, heard_before)]
        return sum(self._reap(agent_id, heard_before, now) for agent_id in silent)

    def _reap(self, agent_id: str, heard_before: datetime, now: datetime) -> int:
        events: list[Any] = []
        moved = 0
        with self.db.transaction() as session:
            agent = session.get(Agent, agent_id, populate_existing=True)
            if agent is None or agent.status != "online" or agent.last_heartbeat_at >= heard_before:
                return 0  # gone, or back: not ours to reap
            silent_for = (now - agent.last_heartbeat_at).total_seconds()
            why = f"its agent {agent.name!r} stopped heartbeating ({silent_for:.0f} s silent)"
            for run in store_queues.read_agent_runs(session, agent_id):
                if run.state_type is StateType.CANCELLING:
                    state = State(StateType.CANCELLED, message=f"cancelled: {why}", timestamp=now)
                else:
                    state = State(StateType.CRASHED, message=why, timestamp=now)
                try:
                    apply_state(session, "flow_run", run, state)
                except (StateConflict, IllegalTransition):
                    continue  # moved meanwhile (it ended, or was claimed again)
                moved += 1
            store_queues.set_agent_status(session, agent_id, "offline")
            events = session.info.pop(EVENTS_KEY, [])
        self.log.warning(
            "jupyter-flows reaper: agent %s went silent; %d run(s) moved", agent_id, moved
        )
        if self.publish is not None:
            for event in events:
                self.publish(event)
        return moved
