"""Backfills on SQLite and PostgreSQL: exactly the scheduler's slots across DST changes,
idempotent, capped, cancellable as a group. Time is injected where the code takes it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from jupyter_flows.engine.states import FINAL_TYPES, State, StateType
from jupyter_flows.server.background import BackfillReleaser, Scheduler
from jupyter_flows.server.service import backfills
from jupyter_flows.server.wire import CreateBackfill
from jupyter_flows.store import Database, deployments, flows, runs
from jupyter_flows.store.models import FlowRun

UTC = timezone.utc


@pytest.fixture
def db(flows_db_url: str) -> Iterator[Database]:
    database = Database(flows_db_url, upgrade=False)
    yield database
    database.dispose()


def make_deployment(
    db: Database, name: str, *, cron: str, tz: str, slot_parameter: bool = True
) -> str:
    properties: dict[str, Any] = {"n": {"type": "integer"}}
    if slot_parameter:
        properties["scheduled_time"] = {"type": "string"}
    content = {"tasks": [], "edges": [], "parameters": {"type": "object", "properties": properties}}
    with db.transaction() as s:
        version, _ = flows.register_flow_version(s, "default", f"etl-{name}", content)
        deployment = deployments.create_deployment(
            s, flow_group_id=version.flow_group_id, name=name, parameters={"n": 1}
        )
        deployments.add_schedule(s, deployment.id, cron=cron, timezone=tz)
        return deployment.id


def runs_of(db: Database, deployment_id: str) -> list[FlowRun]:
    with db.read_session() as s:
        query = (
            sa.select(FlowRun)
            .where(FlowRun.deployment_id == deployment_id)
            .order_by(FlowRun.expected_start_time)
        )
        return list(s.scalars(query))


def backfill(db: Database, deployment_id: str, **body: Any) -> tuple[dict[str, Any], bool]:
    with db.transaction() as s:
        return backfills.create_backfill(s, deployment_id, CreateBackfill(**body))


WINDOWS = [
    # Europe/Berlin springs forward on 29 March 2026 (02:00 → 03:00) and falls back on
    # 25 October 2026 (03:00 → 02:00).
    ("30 2 * * *", "Europe/Berlin", "2026-03-26T00:00:00Z", "2026-04-01T00:00:00Z"),
    ("30 2 * * *", "Europe/Berlin", "2026-10-22T00:00:00Z", "2026-10-28T00:00:00Z"),
    ("*/30 * * * *", "Europe/Berlin", "2026-03-28T20:00:00Z", "2026-03-29T04:00:00Z"),
    ("*/30 * * * *", "Europe/Berlin", "2026-10-24T22:00:00Z", "2026-10-25T04:00:00Z"),
    ("0 9 * * 1-5", "America/New_York", "2026-03-01T00:00:00Z", "2026-03-20T00:00:00Z"),
]


@pytest.mark.parametrize(("cron", "tz", "start", "end"), WINDOWS)
def test_a_window_across_a_dst_change_makes_exactly_the_schedulers_slots(
    db: Database, cron: str, tz: str, start: str, end: str
) -> None:
    begin, finish = datetime.fromisoformat(start), datetime.fromisoformat(end)
    # The scheduler, ticking at the window's start with a horizon of the whole window.
    scheduled = make_deployment(db, "scheduled", cron=cron, tz=tz)
    second = timedelta(seconds=1)
    Scheduler(db, horizon_runs=10_000, horizon=finish - begin + second).run_once(begin - second)
    want = [r.expected_start_time for r in runs_of(db, scheduled)]
    want = [t for t in want if begin <= t <= finish]
    assert len(want) >= 4

    backfilled = make_deployment(db, "backfilled", cron=cron, tz=tz)
    preview, _ = backfill(db, backfilled, start=start, end=end, dry_run=True)
    assert [datetime.fromisoformat(i["slot"]) for i in preview["items"]] == want
    assert preview["new"] == len(want) and runs_of(db, backfilled) == []  # nothing made

    made, created = backfill(db, backfilled, start=start, end=end)
    assert created and made["total"] == len(want)
    got = runs_of(db, backfilled)
    assert [r.expected_start_time for r in got] == want
    # The slot, as the flow's scheduled_time parameter; the deployment's parameters kept.
    for run in got:
        assert run.parameters == {"n": 1, "scheduled_time": run.expected_start_time.isoformat()}
        assert run.state_type is StateType.SCHEDULED and run.backfill_id == made["id"]

    # Asked again, or a wider window over it: nothing new.
    again, created_again = backfill(db, backfilled, start=start, end=end)
    assert not created_again and again["id"] == made["id"]
    wider, _ = backfill(db, backfilled, start=start, end=end, max_concurrent=3)
    assert wider["id"] == made["id"]  # the cap is not part of what was asked
    overlapping = (begin - timedelta(days=2)).isoformat()
    other, created_other = backfill(db, backfilled, start=overlapping, end=end)
    assert created_other and other["id"] != made["id"]
    assert [r.expected_start_time for r in runs_of(db, backfilled)][-len(want) :] == want
    assert other["runs"] == len(runs_of(db, backfilled)) - len(want)


def test_a_slot_the_scheduler_made_is_not_made_again(db: Database) -> None:
    deployment = make_deployment(db, "d", cron="0 * * * *", tz="UTC", slot_parameter=False)
    begin = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    Scheduler(db, horizon_runs=3, horizon=timedelta(days=1)).run_once(begin)  # 01:00-03:00
    made, _ = backfill(db, deployment, start="2026-05-01T00:00:00Z", end="2026-05-01T05:00:00Z")
    assert made["total"] == 6 and made["runs"] == 3  # 00:00, 04:00, 05:00
    got = runs_of(db, deployment)
    assert len(got) == 6 and all(r.parameters == {"n": 1} for r in got)


def finish(db: Database, run_ids: list[str], to: StateType = StateType.COMPLETED) -> None:
    with db.transaction() as s:
        for run_id in run_ids:
            run = s.get_one(FlowRun, run_id)
            for step in (StateType.PENDING, StateType.RUNNING, to):
                runs.propose_state(s, run, State(step))


def unfinished(db: Database, backfill_id: str) -> list[FlowRun]:
    with db.read_session() as s:
        query = sa.select(FlowRun).where(
            FlowRun.backfill_id == backfill_id, FlowRun.state_type.not_in(FINAL_TYPES)
        )
        return list(s.scalars(query.order_by(FlowRun.id)))


def test_the_cap_holds_as_runs_finish_and_the_group_cancels(db: Database) -> None:
    deployment = make_deployment(db, "d", cron="0 * * * *", tz="UTC")
    made, _ = backfill(
        db, deployment, start="2026-05-01T00:00:00Z", end="2026-05-01T09:00:00Z", max_concurrent=3
    )
    assert made["total"] == 10 and made["runs"] == 3
    releaser = BackfillReleaser(db)
    assert releaser.run_once() == 0  # nothing finished: the cap is full

    with db.transaction() as s:  # paused, the deployment starts nothing new
        deployments.update_deployment(s, deployment, paused=True)
    finish(db, [unfinished(db, made["id"])[0].id])
    assert releaser.run_once() == 0
    with db.transaction() as s:
        deployments.update_deployment(s, deployment, paused=False)
    assert releaser.run_once() == 1

    seen = 4
    while seen < 10:
        first = unfinished(db, made["id"])
        assert len(first) == 3
        finish(db, [first[0].id, first[1].id])
        assert releaser.run_once() == 2
        seen += 2
        assert len(unfinished(db, made["id"])) == 3
    assert len(runs_of(db, deployment)) == 10
    # In slot order: the first made are the earliest slots.
    assert [r.name for r in runs_of(db, deployment)][:2] == [
        "backfill-20260501-0000",
        "backfill-20260501-0100",
    ]

    running = unfinished(db, made["id"])[0]
    with db.transaction() as s:
        run = s.get_one(FlowRun, running.id)
        runs.propose_state(s, run, State(StateType.PENDING))
        runs.propose_state(s, run, State(StateType.RUNNING))
    with db.transaction() as s:
        cancelled = backfills.cancel_backfill(s, made["id"])
    assert cancelled["status"] == "cancelled"
    states = {r.id: r.state_type for r in runs_of(db, deployment)}
    assert states[running.id] is StateType.CANCELLING
    assert sum(1 for t in states.values() if t is StateType.CANCELLED) == 2
    assert [r.id for r in unfinished(db, made["id"])] == [running.id]
    assert releaser.run_once() == 0  # a cancelled backfill makes nothing more
    assert len(runs_of(db, deployment)) == 10


def test_one_run_per_value_of_a_parameter(db: Database) -> None:
    deployment = make_deployment(db, "d", cron="0 * * * *", tz="UTC")
    made, created = backfill(db, deployment, parameter="n", values=[1, 2, 3])
    assert created and made["runs"] == 3 and made["status"] == "running"
    assert sorted(r.parameters["n"] for r in runs_of(db, deployment)) == [1, 2, 3]
    again, created = backfill(db, deployment, parameter="n", values=[3, 4])
    assert created and again["runs"] == 1  # n=3 exists already
    finish(db, [r.id for r in runs_of(db, deployment)])
    with db.read_session() as s:
        assert backfills.read_backfill(s, made["id"])["status"] == "completed"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"start": "2026-05-02T00:00:00Z", "end": "2026-05-01T00:00:00Z"}, "before its start"),
        ({"start": "2026-05-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}, "in the past"),
        (
            {"start": "2026-05-01T00:00:00Z", "end": "2026-05-02T00:00:00Z", "slot_parameter": "x"},
            "no parameter 'x'",
        ),
        ({"parameter": "n", "values": ["one"]}, "'n'"),
        ({"parameter": "n", "values": [1, 1]}, "repeat"),
    ],
)
def test_bad_backfills_are_refused_and_make_nothing(
    db: Database, body: dict[str, Any], needle: str
) -> None:
    from jupyter_flows.server.errors import FlowsError

    deployment = make_deployment(db, "d", cron="0 * * * *", tz="UTC")
    with pytest.raises(FlowsError, match=needle), db.transaction() as s:
        backfills.create_backfill(s, deployment, CreateBackfill(**body))
    assert runs_of(db, deployment) == []
