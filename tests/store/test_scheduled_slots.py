"""The scheduler's two store queries: the slots a schedule already filled, and removing the
runs it made that never started (pause, schedule change)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.store import deployments, queues, run_queries, runs
from jupyter_flows.store.models import Deployment
from tests.store.factories import T0, drive, make_group

SLOTS = [T0 + timedelta(hours=h) for h in range(4)]


def _deployment(session: Session, name: str = "nightly") -> Deployment:
    queue = queues.get_or_create_work_queue(session, "default")
    return deployments.create_deployment(
        session, flow_group_id=make_group(session).id, name=name, work_queue_id=queue.id
    )


def test_read_scheduled_slots_per_deployment_after_a_time(session: Session) -> None:
    one, two, idle = (_deployment(session, n) for n in ("one", "two", "idle"))
    runs.insert_scheduled_runs(session, one, SLOTS)
    runs.insert_scheduled_runs(session, two, SLOTS[:2])
    # A run asked for by hand is no slot of the schedule.
    runs.create_flow_run(
        session,
        flow_group_id=one.flow_group_id,
        deployment_id=one.id,
        scheduled_time=SLOTS[3] + timedelta(minutes=5),
    )

    slots = runs.read_scheduled_slots(session, [one.id, two.id, idle.id], after=SLOTS[0])

    assert slots == {one.id: SLOTS[1:], two.id: SLOTS[1:2], idle.id: []}
    assert runs.read_scheduled_slots(session, [], after=T0) == {}


def test_delete_scheduled_runs_keeps_started_manual_and_other_runs(session: Session) -> None:
    deployment, other = _deployment(session), _deployment(session, "other")
    made = runs.insert_scheduled_runs(session, deployment, SLOTS)
    kept_other = runs.insert_scheduled_runs(session, other, SLOTS[:1])
    manual = runs.create_flow_run(
        session, flow_group_id=deployment.flow_group_id, deployment_id=deployment.id
    )
    late = made[0]
    runs.propose_state(
        session,
        late,
        State(StateType.SCHEDULED, "Late", timestamp=SLOTS[1]),
        scheduled_time=late.next_scheduled_start_time,
    )
    running, finished = made[1], made[2]
    drive(session, running, StateType.RUNNING)
    drive(session, finished, StateType.COMPLETED)
    # A run that failed and waits for its retry is Scheduled again, but it has run.
    retried = runs.insert_scheduled_runs(session, deployment, [SLOTS[3] + timedelta(hours=1)])[0]
    drive(session, retried, StateType.RETRYING)
    runs.propose_state(session, retried, State(StateType.SCHEDULED, timestamp=SLOTS[3]))

    assert runs.delete_scheduled_runs(session, deployment.id) == 2  # the Late one and made[3]

    left = {r.id for r in run_queries.read_flow_runs(session)}
    assert left == {running.id, finished.id, retried.id, manual.id, kept_other[0].id}
    assert runs.delete_scheduled_runs(session, deployment.id) == 0
