"""Marks Scheduled runs that did not start on time as Late, as Prefect does.

A Late run is still a Scheduled run (state name "Late"): any agent may still claim it, and
the UI tells the user that no agent picked it up. The change goes through
``store.runs.propose_state`` like every other (Scheduled -> Scheduled is a legal re-state),
keeps the run's due time, and loses to any writer that moved the run first: an agent's
claim between our read and our write makes the guarded UPDATE match nothing, and the run
is left alone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.server.background.scheduler import Publish
from jupyter_flows.server.event_bus import flow_run_message
from jupyter_flows.server.service.runs import flow_runs_out
from jupyter_flows.store import Database
from jupyter_flows.store import runs as store_runs
from jupyter_flows.store.errors import StateConflict
from jupyter_flows.store.notifications import enqueue
from jupyter_flows.store.run_queries import read_late_runs
from jupyter_flows.store.types import utcnow

log = logging.getLogger(__name__)


class LateRunMarker:
    """Moves Scheduled runs whose due time + ``grace`` has passed to Scheduled/"Late"."""

    name = "late runs"

    def __init__(
        self,
        db: Database,
        grace: timedelta = timedelta(seconds=15),
        interval: float = 5.0,
        *,
        batch_size: int = 100,
        publish: Publish | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if grace < timedelta(0) or not interval > 0 or batch_size < 1:
            raise ValueError("grace must not be negative; interval and batch_size positive")
        self.db = db
        self.grace = grace
        self.interval = float(interval)
        self.batch_size = batch_size
        self.publish = publish
        self.log = logger or log

    def run_once(self, now: datetime | None = None) -> int:
        """One tick at ``now`` (default: the clock); returns how many runs it marked Late."""
        now = now or utcnow()
        due_before = now - self.grace
        with self.db.read_session() as session:  # the usual case, nothing late: no write lock
            if not read_late_runs(session, due_before=due_before, limit=1):
                return 0
        marked = 0
        while True:
            count, seen = self._mark_batch(due_before, now)
            marked += count
            if seen < self.batch_size or count == 0:
                return marked

    def _mark_batch(self, due_before: datetime, now: datetime) -> tuple[int, int]:
        """Mark one batch in one short write transaction; (marked, looked at)."""
        messages: list[Any] = []
        with self.db.transaction() as session:
            batch = read_late_runs(session, due_before=due_before, limit=self.batch_size)
            marked = []
            for run in batch:
                due = run.next_scheduled_start_time
                late = State(
                    StateType.SCHEDULED,
                    "Late",
                    f"not started within {self.grace.total_seconds():g} s of its scheduled time",
                    timestamp=now,
                )
                try:
                    store_runs.propose_state(session, run, late, scheduled_time=due)
                except StateConflict:
                    continue  # claimed or changed meanwhile: no longer ours to mark
                # Notified from the outbox, written with the change (a run nobody started).
                enqueue(
                    session,
                    run,
                    "Late",
                    state_type=StateType.SCHEDULED,
                    state_name="Late",
                    message=late.message,
                    occurred_at=now,
                )
                marked.append(run)
            if marked and self.publish is not None:
                messages = [flow_run_message(out) for out in flow_runs_out(session, marked)]
        if messages and self.publish is not None:
            self.publish(messages)
        return len(marked), len(batch)
