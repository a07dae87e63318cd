"""The scheduler: Scheduled runs for every active schedule, up to a horizon, exactly once.

One tick (:meth:`Scheduler.run_once`) reads the active schedules of unpaused deployments and
the slots their runs already fill, then, per deployment, inserts the missing slots in one
short write transaction. Nothing is kept between ticks: any number of servers may tick on
one database, because a run's idempotency key is ``scheduled:<deployment>:<slot>``
(``store.runs.insert_scheduled_runs``), so a slot that two ticks both want is one run.

The horizon is whichever comes first: ``horizon_runs`` future runs per schedule, or slots up
to ``now + horizon``. A schedule goes on from the last slot it already filled, so a future
run deleted by hand is not made again, and a tick with nothing to add writes nothing.
Pausing a deployment or changing its schedule deletes the runs it made that never started
(``store.runs.delete_scheduled_runs``, called by the deployments service); a tick racing
with that change sees it (on PostgreSQL the deployment and schedule rows are read
``FOR SHARE``, on SQLite the write transaction holds the database lock) and adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from jupyter_flows.server.background.schedules import is_slot, next_slots
from jupyter_flows.server.event_bus import Event, flow_run_message
from jupyter_flows.server.service.runs import flow_runs_out
from jupyter_flows.store import Database
from jupyter_flows.store import deployments as store_deployments
from jupyter_flows.store import runs as store_runs
from jupyter_flows.store.models import Deployment, Schedule
from jupyter_flows.store.types import utcnow

log = logging.getLogger(__name__)

Publish = Callable[[Event], None]


class Scheduler:
    """Creates the Scheduled runs of every active schedule, up to the horizon."""

    name = "scheduler"

    def __init__(
        self,
        db: Database,
        horizon_runs: int = 100,
        horizon: timedelta = timedelta(days=7),
        interval: float = 60.0,
        *,
        publish: Publish | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if horizon_runs < 1 or horizon <= timedelta(0) or not interval > 0:
            raise ValueError("horizon_runs, horizon and interval must be positive")
        self.db = db
        self.horizon_runs = horizon_runs
        self.horizon = horizon
        self.interval = float(interval)
        self.publish = publish
        self.log = logger or log

    def run_once(self, now: datetime | None = None) -> int:
        """One tick at ``now`` (default: the clock); returns how many runs it created."""
        now = now or utcnow()
        with self.db.read_session() as session:
            active: dict[str, list[Schedule]] = {}
            for deployment, schedule in store_deployments.read_active_schedules(session):
                active.setdefault(deployment.id, []).append(schedule)
            filled = store_runs.read_scheduled_slots(session, list(active), after=now)
        created = 0
        for deployment_id, schedules in active.items():
            plan = self.plan(schedules, filled[deployment_id], now)
            if not plan:
                continue
            try:
                created += self._insert(deployment_id, plan)
            except SQLAlchemyError:
                # One deployment's trouble must not starve the others; the next tick retries.
                self.log.exception("scheduler: could not schedule deployment %s", deployment_id)
        return created

    def plan(
        self, schedules: list[Schedule], filled: list[datetime], now: datetime
    ) -> dict[str, list[datetime]]:
        """The new slots of each schedule of one deployment (by schedule id).

        ``filled``: the deployment's future slots that already have a run, ascending. With
        several schedules, a filled slot counts for each schedule that has it.
        """
        until = now + self.horizon
        plan: dict[str, list[datetime]] = {}
        for schedule in schedules:
            try:
                own = filled if len(schedules) == 1 else [t for t in filled if is_slot(schedule, t)]
                missing = self.horizon_runs - len(own)
                if missing <= 0:
                    continue
                start = max(now, own[-1]) if own else now
                slots = next_slots(schedule, start, until, missing)
            except ValueError as exc:  # a schedule the store let in but cannot be read
                self.log.warning("scheduler: skipping schedule %s: %s", schedule.id, exc)
                continue
            if slots:
                plan[schedule.id] = slots
        return plan

    def _insert(self, deployment_id: str, plan: dict[str, list[datetime]]) -> int:
        messages: list[Any] = []
        with self.db.transaction() as session:
            # Deployment row first, then its schedules: the order the deployments service
            # writes them in, so a pause or schedule change and a tick never deadlock.
            deployment = session.scalars(
                sa.select(Deployment)
                .where(Deployment.id == deployment_id, Deployment.paused.is_(False))
                .with_for_update(read=True)
            ).one_or_none()
            if deployment is None:
                return 0  # paused or deleted since the read
            live = set(
                session.scalars(
                    sa.select(Schedule.id)
                    .where(Schedule.id.in_(list(plan)), Schedule.active.is_(True))
                    .with_for_update(read=True)
                )
            )
            slots = sorted({t for schedule_id in live for t in plan[schedule_id]})
            if not slots:
                return 0
            version_id = store_deployments.resolve_version_id(session, deployment)
            runs = store_runs.insert_scheduled_runs(
                session, deployment, slots, flow_version_id=version_id
            )
            if runs and self.publish is not None:
                messages = [flow_run_message(out) for out in flow_runs_out(session, runs)]
        if messages and self.publish is not None:
            self.publish(messages)  # after the commit: no one hears of a rolled-back run
        return len(runs)
