"""The scheduler's ticks on SQLite and PostgreSQL: horizons, idempotence, pause, races.

Time is injected: every tick gets its ``now``, so nothing here sleeps or reads the clock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from jupyter_flows.engine.states import StateType
from jupyter_flows.server.background import Scheduler
from jupyter_flows.store import Database, deployments, flows, queues, run_queries, runs
from jupyter_flows.store.models import Deployment, FlowRun

UTC = timezone.utc
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def db(flows_db_url: str) -> Iterator[Database]:
    database = Database(flows_db_url, upgrade=False)
    yield database
    database.dispose()


CONTENT = {
    "tasks": [{"key": "load", "code_hash": "h1"}],
    "edges": [],
    "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "task_runner": "sequential",
    "run_config": {},
    "resource_spec_hash": None,
}


def make_deployment(
    db: Database,
    *,
    name: str = "nightly",
    every: timedelta | None = HOUR,
    anchor: datetime = NOW - timedelta(minutes=30),
    cron: str | None = None,
    timezone: str = "UTC",
    paused: bool = False,
) -> Deployment:
    """A registered flow with one deployment and one schedule (interval by default)."""
    with db.transaction() as s:
        version, _ = flows.register_flow_version(s, "default", f"flow-{name}", CONTENT)
        queue = queues.get_or_create_work_queue(s, "default")
        deployment = deployments.create_deployment(
            s,
            flow_group_id=version.flow_group_id,
            name=name,
            work_queue_id=queue.id,
            parameters={"n": 1},
            paused=paused,
        )
        if cron is not None:
            deployments.add_schedule(s, deployment.id, cron=cron, timezone=timezone)
        elif every is not None:
            deployments.add_schedule(s, deployment.id, interval=every, anchor_date=anchor)
    return deployment


def scheduled(db: Database, deployment: Deployment) -> list[FlowRun]:
    with db.read_session() as s:
        flt = run_queries.FlowRunFilter(deployment_ids=[deployment.id])
        return run_queries.read_flow_runs(s, flt, sort="expected_start_asc", limit=1000)


def starts(db: Database, deployment: Deployment) -> list[datetime]:
    return [r.expected_start_time for r in scheduled(db, deployment)]


def hours(*n: float) -> list[datetime]:
    """Slots of the default schedule: on the half hour, n hours after NOW - 30 min."""
    return [NOW - timedelta(minutes=30) + k * HOUR for k in n]


# ------------------------------------------------------------------ one tick


def test_a_tick_fills_the_run_horizon(db: Database) -> None:
    deployment = make_deployment(db)

    created = Scheduler(db, horizon_runs=5).run_once(NOW)

    assert created == 5
    assert starts(db, deployment) == hours(1, 2, 3, 4, 5)
    with db.read_session() as s:
        version_id = deployments.resolve_version_id(s, s.get_one(Deployment, deployment.id))
    for run in scheduled(db, deployment):
        assert (run.state_type, run.state_name) == (StateType.SCHEDULED, "Scheduled")
        assert run.next_scheduled_start_time == run.expected_start_time
        assert run.idempotency_key == runs.scheduled_run_key(deployment.id, run.expected_start_time)
        assert (run.parameters, run.flow_version_id) == ({"n": 1}, version_id)
        assert run.work_queue_id == deployment.work_queue_id


def test_a_tick_stops_at_the_time_horizon(db: Database) -> None:
    deployment = make_deployment(db, every=timedelta(days=1), anchor=NOW)

    assert Scheduler(db, horizon_runs=100, horizon=timedelta(days=3)).run_once(NOW) == 3
    assert starts(db, deployment) == [NOW + timedelta(days=d) for d in (1, 2, 3)]


def test_a_tick_with_nothing_to_do_creates_nothing(db: Database) -> None:
    deployment = make_deployment(db)
    scheduler = Scheduler(db, horizon_runs=5)
    scheduler.run_once(NOW)
    before = [(r.id, r.state_seq, r.updated) for r in scheduled(db, deployment)]

    assert scheduler.run_once(NOW) == 0
    assert scheduler.run_once(NOW + timedelta(minutes=20)) == 0  # no slot has passed yet

    assert [(r.id, r.state_seq, r.updated) for r in scheduled(db, deployment)] == before


def test_an_empty_store_and_schedule_less_deployments_make_nothing(db: Database) -> None:
    assert Scheduler(db).run_once(NOW) == 0
    make_deployment(db, every=None)
    assert Scheduler(db).run_once(NOW) == 0


def test_later_ticks_roll_the_horizon_forward(db: Database) -> None:
    deployment = make_deployment(db)
    scheduler = Scheduler(db, horizon_runs=3)
    scheduler.run_once(NOW)

    assert scheduler.run_once(NOW + HOUR) == 1  # the 12:30 slot is now past
    assert scheduler.run_once(NOW + 3 * HOUR) == 2
    assert starts(db, deployment) == hours(1, 2, 3, 4, 5, 6)


def test_a_future_run_deleted_by_hand_is_not_made_again(db: Database) -> None:
    deployment = make_deployment(db)
    scheduler = Scheduler(db, horizon_runs=4)
    scheduler.run_once(NOW)
    middle = scheduled(db, deployment)[1]
    with db.transaction() as s:
        run_queries.delete_flow_run(s, middle.id)

    # The schedule goes on from its last slot: one run short, one more at the end.
    assert scheduler.run_once(NOW) == 1
    assert starts(db, deployment) == hours(1, 3, 4, 5)


def test_paused_deployments_and_inactive_schedules_get_no_runs(db: Database) -> None:
    paused = make_deployment(db, name="paused", paused=True)
    inactive = make_deployment(db, name="inactive")
    with db.transaction() as s:
        for schedule in deployments.read_schedules(s, inactive.id):
            deployments.set_schedule_active(s, schedule.id, False)

    assert Scheduler(db).run_once(NOW) == 0
    assert starts(db, paused) == starts(db, inactive) == []


def test_cron_schedules_in_a_timezone_across_dst(db: Database) -> None:
    deployment = make_deployment(db, cron="30 2 * * *", timezone="America/New_York")
    now = datetime(2026, 3, 6, 12, tzinfo=UTC)

    Scheduler(db, horizon=timedelta(days=4)).run_once(now)

    # 02:30 EST, then 03:00 EDT (02:30 does not exist on 8 March), then 02:30 EDT.
    assert [t.strftime("%d %H:%M") for t in starts(db, deployment)] == [
        "07 07:30",
        "08 07:00",
        "09 06:30",
        "10 06:30",
    ]


def test_several_schedules_of_one_deployment_each_fill_their_horizon(db: Database) -> None:
    deployment = make_deployment(db, every=2 * HOUR, anchor=NOW)
    with db.transaction() as s:  # every 3 hours: shares the 18:00 slot with the first
        deployments.add_schedule(s, deployment.id, interval=3 * HOUR, anchor_date=NOW)
    scheduler = Scheduler(db, horizon_runs=3)

    assert scheduler.run_once(NOW) == 5
    assert starts(db, deployment) == [NOW + h * HOUR for h in (2, 3, 4, 6, 9)]
    assert scheduler.run_once(NOW) == 0
    # Later, each schedule goes on from its own last slot (no gap for the faster one).
    assert scheduler.run_once(NOW + 4 * HOUR) == 3
    assert starts(db, deployment) == [NOW + h * HOUR for h in (2, 3, 4, 6, 8, 9, 10, 12)]


def test_an_unreadable_schedule_is_skipped_and_the_others_scheduled(db: Database) -> None:
    broken = make_deployment(db, name="broken", cron="0 9 * * *")
    with db.transaction() as s:  # the store checks only the shape of a cron line
        s.execute(sa.text("UPDATE schedules SET cron = '99 99 * * *'"))
    good = make_deployment(db, name="good")

    assert Scheduler(db, horizon_runs=2).run_once(NOW) == 2
    assert starts(db, broken) == [] and len(starts(db, good)) == 2


def test_new_runs_are_published_after_commit(db: Database) -> None:
    deployment = make_deployment(db)
    published: list[Any] = []

    Scheduler(db, horizon_runs=2, publish=published.append).run_once(NOW)

    assert len(published) == 1
    bodies = [m.body for m in published[0]]
    assert [b["flow_run"]["deployment_id"] for b in bodies] == [deployment.id] * 2
    assert {b["type"] for b in bodies} == {"flow_run"}


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        Scheduler(None, horizon_runs=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Scheduler(None, horizon=timedelta(0))  # type: ignore[arg-type]


# ------------------------------------------------------------------ pause


def test_pausing_removes_future_runs_and_keeps_started_ones(db: Database) -> None:
    from jupyter_flows.server.service import deployments as service

    deployment = make_deployment(db)
    scheduler = Scheduler(db, horizon_runs=4)
    scheduler.run_once(NOW - 2 * HOUR)  # slots 11:30 .. 14:30 (two are due at NOW)
    with db.transaction() as s:
        agent = queues.register_agent(s, "a1", work_queue_id=deployment.work_queue_id)
        started = queues.claim_next_run(s, deployment.work_queue_id, agent.id, now=NOW)
    assert started is not None and started.expected_start_time == hours(-1)[0]

    with db.transaction() as s:  # what POST deployments/{id}/pause does
        service.pause_deployment(s, deployment.id, True)
    assert [r.id for r in scheduled(db, deployment)] == [started.id]
    assert scheduler.run_once(NOW) == 0

    with db.transaction() as s:
        service.pause_deployment(s, deployment.id, False)
    assert scheduler.run_once(NOW) == 4  # from now on; the past slot left is not made again
    assert starts(db, deployment) == hours(-1, 1, 2, 3, 4)


def test_changing_the_schedule_replaces_its_future_runs(db: Database) -> None:
    from jupyter_flows.server.service import deployments as service
    from jupyter_flows.server.wire import UpdateDeployment

    deployment = make_deployment(db)
    scheduler = Scheduler(db, horizon_runs=3)
    scheduler.run_once(NOW)
    body = UpdateDeployment.model_validate(
        {"schedule": {"interval_seconds": 7200, "anchor": NOW.isoformat()}}
    )
    with db.transaction() as s:
        service.update_deployment(s, deployment.id, body)

    assert starts(db, deployment) == []
    assert scheduler.run_once(NOW) == 3
    assert starts(db, deployment) == [NOW + h * HOUR for h in (2, 4, 6)]


# ------------------------------------------------------------------ concurrency


@pytest.mark.parametrize("n_schedulers", [2, 3])
def test_concurrent_schedulers_create_each_slot_once(flows_db_url: str, n_schedulers: int) -> None:
    """Schedulers on their own Database objects (as on several servers), ticking at once at
    slightly different clocks: every slot is one run, and each run is counted once."""
    setup = Database(flows_db_url, upgrade=False)
    made = [make_deployment(setup, name=f"d{i}", every=timedelta(minutes=7 + i)) for i in range(4)]
    setup.dispose()
    databases = [Database(flows_db_url, upgrade=False) for _ in range(n_schedulers)]
    barrier = threading.Barrier(n_schedulers, timeout=60)
    created: list[int] = []
    errors: list[BaseException] = []

    def ticks(i: int) -> None:
        scheduler = Scheduler(databases[i], horizon_runs=30, horizon=timedelta(hours=6))
        try:
            for step in range(6):
                barrier.wait()
                now = NOW + step * timedelta(minutes=25) + i * timedelta(seconds=1)
                created.append(scheduler.run_once(now))
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=ticks, args=(i,)) for i in range(n_schedulers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for database in databases:
        database.dispose()

    assert errors == []
    check = Database(flows_db_url, upgrade=False)
    try:
        with check.read_session() as s:
            all_runs = run_queries.read_flow_runs(s, limit=1000)
        keys = Counter(r.idempotency_key for r in all_runs)
        assert keys and max(keys.values()) == 1
        assert sum(created) == len(all_runs)
        one = Scheduler(check, horizon_runs=30, horizon=timedelta(hours=6))
        last = NOW + 5 * timedelta(minutes=25) + (n_schedulers - 1) * timedelta(seconds=1)
        assert one.run_once(last) == 0  # together they made exactly what one would have
        for deployment in made:
            slots = starts(check, deployment)
            step = timedelta(minutes=7 + made.index(deployment))
            assert all(b - a == step for a, b in zip(slots, slots[1:], strict=False))
            assert len(slots) == len(set(slots))
    finally:
        check.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_tick_racing_a_pause_adds_nothing(db: Database, flows_db_url: str) -> None:
    """A tick that read the deployment before a pause committed waits for the pause (the
    rows are read FOR SHARE), then sees it: no run outlives the pause."""
    from jupyter_flows.server.service import deployments as service

    deployment = make_deployment(db)
    pauser, watcher = (Database(flows_db_url, upgrade=False) for _ in range(2))
    result: list[int] = []
    tick = threading.Thread(target=lambda: result.append(Scheduler(db).run_once(NOW)))
    try:
        with pauser.session() as s, s.begin():
            service.pause_deployment(s, deployment.id, True)  # not committed yet
            tick.start()
            blocked = False
            with watcher.engine.connect() as conn:
                while tick.is_alive() and not blocked:  # until the tick waits for our lock
                    blocked = bool(
                        conn.execute(
                            sa.text(
                                "SELECT count(*) FROM pg_stat_activity WHERE "
                                "wait_event_type = 'Lock' AND datname = current_database()"
                            )
                        ).scalar()
                    )
                    conn.rollback()
            assert blocked, "the tick did not wait for the pause"
        tick.join()
    finally:
        pauser.dispose()
        watcher.dispose()
    assert result == [0]
    assert starts(db, deployment) == []
