"""Scheduled runs are created once per (deployment, slot), however often and by however many."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import StateType
from jupyter_flows.store import Database, deployments, queues, run_queries, runs
from jupyter_flows.store.errors import InvalidInput
from jupyter_flows.store.models import Deployment
from tests.store.factories import T0, make_group

SLOTS = [T0 + timedelta(hours=h) for h in range(5)]


def _deployment(session: Session, name: str = "nightly") -> Deployment:
    group = make_group(session)
    queue = queues.get_or_create_work_queue(session, "default")
    return deployments.create_deployment(
        session,
        flow_group_id=group.id,
        name=name,
        work_queue_id=queue.id,
        parameters={"n": 3},
        tags=["prod"],
    )


def test_creates_scheduled_runs_from_the_deployment(session: Session) -> None:
    deployment = _deployment(session)
    created = runs.insert_scheduled_runs(session, deployment, reversed(SLOTS))
    assert [r.expected_start_time for r in created] == SLOTS
    for run in created:
        assert run.state_type is StateType.SCHEDULED
        assert run.next_scheduled_start_time == run.expected_start_time
        assert (run.parameters, run.tags) == ({"n": 3}, ["prod"])
        assert (run.deployment_id, run.work_queue_id) == (deployment.id, deployment.work_queue_id)
        history = runs.read_state_history(session, run)
        assert [h.type for h in history] == [StateType.SCHEDULED]


def test_inserting_the_same_slots_again_creates_nothing(session: Session) -> None:
    deployment = _deployment(session)
    first = runs.insert_scheduled_runs(session, deployment, SLOTS[:3])
    session.commit()
    again = runs.insert_scheduled_runs(session, deployment, SLOTS)  # 3 old + 2 new
    session.commit()
    assert len(first) == 3
    assert [r.expected_start_time for r in again] == SLOTS[3:]
    assert run_queries.count_flow_runs(session) == 5
    assert runs.insert_scheduled_runs(session, deployment, SLOTS) == []


def test_slots_are_per_deployment(session: Session) -> None:
    one, two = _deployment(session, "one"), _deployment(session, "two")
    runs.insert_scheduled_runs(session, one, SLOTS[:2])
    runs.insert_scheduled_runs(session, two, SLOTS[:2])
    assert run_queries.count_flow_runs(session) == 4


def test_same_instant_in_another_zone_is_the_same_slot(session: Session) -> None:
    from datetime import timezone

    deployment = _deployment(session)
    runs.insert_scheduled_runs(session, deployment, [SLOTS[0]])
    shifted = SLOTS[0].astimezone(timezone(timedelta(hours=5)))
    assert runs.insert_scheduled_runs(session, deployment, [shifted]) == []


def test_naive_slot_refused(session: Session) -> None:
    deployment = _deployment(session)
    with pytest.raises(InvalidInput):
        runs.insert_scheduled_runs(session, deployment, [SLOTS[0].replace(tzinfo=None)])


def test_two_writers_inserting_the_same_slots_make_one_run_each(db: Database) -> None:
    with db.session() as s:
        deployment_id = _deployment(s).id
        s.commit()
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3, timeout=60)

    def schedule() -> None:
        try:
            with db.read_session() as s:
                deployment = deployments.read_deployment(s, deployment_id)
            # (Not inside the write session: on SQLite it holds the write lock from BEGIN.)
            barrier.wait()
            with db.session() as s:
                created = runs.insert_scheduled_runs(s, deployment, SLOTS)
                s.commit()
                results.append([r.id for r in created])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=schedule) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    created = [run_id for ids in results for run_id in ids]
    assert len(created) == len(set(created)) == len(SLOTS)
    with db.session() as s:
        assert run_queries.count_flow_runs(s) == len(SLOTS)


def test_idempotency_key_on_a_manual_create(session: Session) -> None:
    group = make_group(session)
    first = runs.create_flow_run(session, flow_group_id=group.id, idempotency_key="req-1")
    second = runs.create_flow_run(session, flow_group_id=group.id, idempotency_key="req-1")
    assert second.id == first.id
    assert len(runs.read_state_history(session, first)) == 1
    third = runs.create_flow_run(session, flow_group_id=group.id, idempotency_key="req-2")
    assert third.id != first.id


def test_task_run_create_is_idempotent(session: Session) -> None:
    group = make_group(session)
    flow_run = runs.create_flow_run(session, flow_group_id=group.id)
    one = runs.create_task_run(session, flow_run_id=flow_run.id, task_key="load")
    again = runs.create_task_run(session, flow_run_id=flow_run.id, task_key="load")
    mapped = runs.create_task_run(
        session, flow_run_id=flow_run.id, task_key="load", dynamic_key="1"
    )
    assert again.id == one.id
    assert mapped.id != one.id and mapped.name == "load-1"
