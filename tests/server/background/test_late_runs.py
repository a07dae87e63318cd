"""The late-run marker on SQLite and PostgreSQL; time is injected, nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.server.background import LateRunMarker
from jupyter_flows.server.background import late_runs as late_module
from jupyter_flows.store import Database, flows, queues, run_queries, runs
from jupyter_flows.store.models import FlowRun

UTC = timezone.utc
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def db(flows_db_url: str) -> Iterator[Database]:
    database = Database(flows_db_url, upgrade=False)
    yield database
    database.dispose()


def make_run(db: Database, due: datetime | None) -> FlowRun:
    """A Scheduled run due at ``due``; a Pending one if ``due`` is None."""
    with db.transaction() as s:
        group = flows.get_or_create_flow_group(s, "default", "etl")
        queue = queues.get_or_create_work_queue(s, "default")
        return runs.create_flow_run(
            s,
            flow_group_id=group.id,
            work_queue_id=queue.id,
            state=StateType.SCHEDULED if due else StateType.PENDING,
            scheduled_time=due,
        )


def reread(db: Database, run: FlowRun) -> FlowRun:
    with db.read_session() as s:
        return run_queries.read_flow_run(s, run.id)


def test_runs_not_started_within_the_grace_become_late(db: Database) -> None:
    overdue = make_run(db, NOW - 16 * SECOND)
    within_grace = make_run(db, NOW - 15 * SECOND)
    future = make_run(db, NOW + timedelta(hours=1))

    assert LateRunMarker(db, grace=15 * SECOND).run_once(NOW) == 1

    late = reread(db, overdue)
    assert (late.state_type, late.state_name) == (StateType.SCHEDULED, "Late")
    assert late.next_scheduled_start_time == NOW - 16 * SECOND  # still due when it was
    assert late.state_timestamp == NOW
    with db.read_session() as s:
        history = runs.read_state_history(s, late)
    assert [(h.type, h.name) for h in history] == [
        (StateType.SCHEDULED, "Scheduled"),
        (StateType.SCHEDULED, "Late"),
    ]
    assert history[-1].details["scheduled_time"] == (NOW - 16 * SECOND).isoformat()
    for run in (within_grace, future):
        assert reread(db, run).state_name == "Scheduled"


def test_a_second_tick_marks_nothing_again(db: Database) -> None:
    run = make_run(db, NOW - timedelta(minutes=5))
    marker = LateRunMarker(db)
    assert marker.run_once(NOW) == 1
    assert marker.run_once(NOW + timedelta(minutes=5)) == 0
    assert reread(db, run).state_seq == 2


def test_nothing_late_means_nothing_written(db: Database) -> None:
    assert LateRunMarker(db).run_once(NOW) == 0
    run = make_run(db, NOW)
    assert LateRunMarker(db).run_once(NOW) == 0
    assert reread(db, run).state_seq == 1


def test_only_scheduled_runs_are_marked(db: Database) -> None:
    claimed = make_run(db, NOW - timedelta(minutes=5))
    with db.transaction() as s:
        agent = queues.register_agent(s, "a1", work_queue_id=claimed.work_queue_id)
        assert queues.claim_next_run(s, claimed.work_queue_id, agent.id, now=NOW) is not None
    pending = make_run(db, None)

    assert LateRunMarker(db).run_once(NOW) == 0
    assert reread(db, claimed).state_type is StateType.PENDING
    assert reread(db, pending).state_type is StateType.PENDING


def test_late_runs_can_still_be_claimed(db: Database) -> None:
    run = make_run(db, NOW - timedelta(minutes=5))
    LateRunMarker(db).run_once(NOW)
    with db.transaction() as s:
        agent = queues.register_agent(s, "a1", work_queue_id=run.work_queue_id)
        claimed = queues.claim_next_run(s, run.work_queue_id, agent.id, now=NOW)
    assert claimed is not None and claimed.id == run.id


def test_many_late_runs_are_marked_in_batches(db: Database) -> None:
    made = [make_run(db, NOW - timedelta(minutes=m + 1)) for m in range(7)]
    published: list[Any] = []

    marker = LateRunMarker(db, batch_size=3, publish=published.append)
    assert marker.run_once(NOW) == 7

    assert {reread(db, r).state_name for r in made} == {"Late"}
    assert [len(event) for event in published] == [3, 3, 1]
    assert published[0][0].body["flow_run"]["state"]["name"] == "Late"


def test_a_run_changed_after_the_read_is_left_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read and the write are one transaction, but the guarded UPDATE is what decides:
    a run whose state moved on (here: by hand, to simulate another writer) is skipped."""
    changed, other = make_run(db, NOW - timedelta(minutes=2)), make_run(db, NOW - timedelta(1))
    real = late_module.read_late_runs

    def read_then_change(session: Any, **kwargs: Any) -> list[FlowRun]:
        found = real(session, **kwargs)
        for run in found:
            if run.id == changed.id:  # as loaded; the row moves on underneath
                session.execute(
                    FlowRun.__table__.update()
                    .where(FlowRun.id == run.id)
                    .values(state_seq=FlowRun.state_seq + 1)
                )
        return found

    monkeypatch.setattr(late_module, "read_late_runs", read_then_change)
    assert LateRunMarker(db).run_once(NOW) == 1
    assert reread(db, changed).state_name == "Scheduled"
    assert reread(db, other).state_name == "Late"


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        LateRunMarker(None, grace=-SECOND)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LateRunMarker(None, batch_size=0)  # type: ignore[arg-type]


def test_the_late_state_is_a_legal_restate() -> None:
    from jupyter_flows.engine.states import is_legal

    assert is_legal(StateType.SCHEDULED, State(StateType.SCHEDULED, "Late").type)
