"""Run queries the API needs: filters, pagination, counts, task runs, artifacts, deletes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.store import InvalidInput, NotFound, artifacts, logs, queues, run_queries, runs
from jupyter_flows.store.models import FlowRun
from jupyter_flows.store.run_queries import FlowRunFilter
from tests.store.factories import T0, drive, log_row, make_group, make_run


@pytest.fixture
def world(session: Session) -> dict[str, object]:
    """Two flows, one deployment-like queue, runs across states, times and tags."""
    from jupyter_flows.store import deployments

    etl, ml = make_group(session, "etl"), make_group(session, "ml")
    queue = queues.create_work_queue(session, "q")
    nightly = deployments.create_deployment(session, flow_group_id=etl.id, name="nightly")
    made: dict[str, FlowRun] = {}
    specs = [
        ("e0", etl, nightly.id, [], 0, StateType.COMPLETED),
        ("e1", etl, nightly.id, ["prod"], 1, StateType.FAILED),
        ("e2", etl, None, ["prod", "gpu"], 2, StateType.RUNNING),
        ("e3", etl, None, [], 3, StateType.SCHEDULED),
        ("m0", ml, None, ["gpu"], 4, StateType.COMPLETED),
        ("m1", ml, None, ["prod", "gpu"], 5, StateType.CANCELLED),
    ]
    for name, group, deployment_id, tags, hour, state in specs:
        run = make_run(
            session,
            group,
            name=name,
            deployment_id=deployment_id,
            work_queue_id=queue.id,
            tags=tags,
            scheduled_time=T0 + timedelta(hours=hour),
        )
        drive(session, run, state)
        made[name] = run
    session.commit()
    return {"etl": etl, "ml": ml, "nightly": nightly, "queue": queue, "runs": made}


def _names(session: Session, flt: FlowRunFilter | None = None, **kwargs: object) -> list[str]:
    return [r.name for r in run_queries.read_flow_runs(session, flt, **kwargs)]  # type: ignore[arg-type]


def test_default_order_is_newest_expected_start_first(session: Session, world: dict) -> None:
    assert _names(session) == ["m1", "m0", "e3", "e2", "e1", "e0"]
    assert _names(session, sort="expected_start_asc") == ["e0", "e1", "e2", "e3", "m0", "m1"]
    assert len(_names(session, sort="created_desc")) == 6
    with pytest.raises(InvalidInput, match="unknown sort"):
        _names(session, sort="sideways")


def test_sorted_by_state_in_a_runs_life_then_newest(session: Session, world: dict) -> None:
    # Scheduled, Running, Completed (newest first), Failed, Cancelled.
    assert _names(session, sort="state_asc") == ["e3", "e2", "m0", "e0", "e1", "m1"]
    assert _names(session, sort="state_desc") == ["m1", "e1", "m0", "e0", "e2", "e3"]


def test_sorted_by_duration_then_newest(session: Session, world: dict) -> None:
    for name, seconds in {"e0": 30.0, "e1": 5.0, "m0": 30.0, "m1": 0.5}.items():
        world["runs"][name].total_run_time = seconds
    session.commit()
    etl_and_ml = _names(session, sort="duration_desc")
    assert etl_and_ml[:4] == ["m0", "e0", "e1", "m1"]
    assert set(etl_and_ml[4:]) == {"e2", "e3"}  # not run yet: no time spent running
    assert _names(session, sort="duration_asc")[-4:] == ["m1", "e1", "m0", "e0"]


@pytest.mark.parametrize(
    ("make_filter", "expected"),
    [
        (lambda w: FlowRunFilter(flow_group_ids=[w["ml"].id]), ["m1", "m0"]),
        (lambda w: FlowRunFilter(deployment_ids=[w["nightly"].id]), ["e1", "e0"]),
        (lambda w: FlowRunFilter(state_types=[StateType.COMPLETED]), ["m0", "e0"]),
        (
            lambda w: FlowRunFilter(state_types=[StateType.RUNNING, StateType.SCHEDULED]),
            ["e3", "e2"],
        ),
        (lambda w: FlowRunFilter(tags=["prod"]), ["m1", "e2", "e1"]),
        (lambda w: FlowRunFilter(tags=["prod", "gpu"]), ["m1", "e2"]),
        (lambda w: FlowRunFilter(tags=["nope"]), []),
        (
            lambda w: FlowRunFilter(
                start_after=T0 + timedelta(hours=1), start_before=T0 + timedelta(hours=4)
            ),
            ["e3", "e2", "e1"],
        ),
        (
            lambda w: FlowRunFilter(flow_group_ids=[w["etl"].id], tags=["gpu"]),
            ["e2"],
        ),
        (
            lambda w: FlowRunFilter(work_queue_ids=[w["queue"].id]),
            ["m1", "m0", "e3", "e2", "e1", "e0"],
        ),
        (lambda w: FlowRunFilter(ids=[w["runs"]["e1"].id, w["runs"]["m0"].id]), ["m0", "e1"]),
        (lambda w: FlowRunFilter(state_types=[]), []),
    ],
    ids=[
        "group",
        "deployment",
        "state",
        "states",
        "tag",
        "tags",
        "no-tag",
        "time-range",
        "group+tag",
        "queue",
        "ids",
        "empty-list",
    ],
)
def test_filters(session: Session, world: dict, make_filter: object, expected: list[str]) -> None:
    flt = make_filter(world)  # type: ignore[operator]
    assert _names(session, flt) == expected
    assert run_queries.count_flow_runs(session, flt) == len(expected)


def test_pagination_walks_every_run_once(session: Session, world: dict) -> None:
    pages = [_names(session, limit=4, offset=offset) for offset in (0, 4, 8)]
    assert pages == [["m1", "m0", "e3", "e2"], ["e1", "e0"], []]
    with pytest.raises(InvalidInput):
        _names(session, limit=0)
    with pytest.raises(InvalidInput):
        _names(session, offset=-1)


def test_count_by_state(session: Session, world: dict) -> None:
    counts = run_queries.count_flow_runs_by_state(session)
    assert counts == {
        StateType.COMPLETED: 2,
        StateType.FAILED: 1,
        StateType.RUNNING: 1,
        StateType.SCHEDULED: 1,
        StateType.CANCELLED: 1,
    }
    etl_only = run_queries.count_flow_runs_by_state(
        session, FlowRunFilter(flow_group_ids=[world["etl"].id])
    )
    assert sum(etl_only.values()) == 4


def test_subflows_by_parent(session: Session, world: dict) -> None:
    parent = world["runs"]["e2"]
    child = make_run(session, world["etl"], parent_flow_run_id=parent.id, name="child")
    found = _names(session, FlowRunFilter(parent_flow_run_ids=[parent.id]))
    assert found == [child.name]
    task_run = runs.create_task_run(session, flow_run_id=parent.id, task_key="call")
    sub = make_run(session, world["etl"], parent_task_run_id=task_run.id, name="sub")
    assert _names(session, FlowRunFilter(parent_task_run_ids=[task_run.id])) == [sub.name]


def test_task_runs_of_a_flow_run(session: Session) -> None:
    flow_run = make_run(session)
    other = make_run(session)
    made = [
        runs.create_task_run(session, flow_run_id=flow_run.id, task_key=k) for k in ("a", "b", "c")
    ]
    runs.create_task_run(session, flow_run_id=other.id, task_key="a")
    runs.propose_state(session, made[1], StateType.RUNNING)
    session.commit()

    assert [t.task_key for t in run_queries.read_task_runs(session, flow_run.id)] == ["a", "b", "c"]
    running = run_queries.read_task_runs(session, flow_run.id, state_types=[StateType.RUNNING])
    assert [t.task_key for t in running] == ["b"]
    page = run_queries.read_task_runs(session, flow_run.id, limit=2, offset=1)
    assert [t.task_key for t in page] == ["b", "c"]
    assert run_queries.read_task_run(session, made[0].id).task_key == "a"
    with pytest.raises(NotFound):
        run_queries.read_task_run(session, "nope")
    with pytest.raises(NotFound):
        run_queries.read_flow_run(session, "nope")


def test_artifacts(session: Session) -> None:
    flow_run = make_run(session)
    task_run = runs.create_task_run(session, flow_run_id=flow_run.id, task_key="report")
    nb = artifacts.create_artifact(
        session, flow_run_id=flow_run.id, type="notebook", data={"uri": "runs/x/out.ipynb"}
    )
    table = artifacts.create_artifact(
        session,
        flow_run_id=flow_run.id,
        task_run_id=task_run.id,
        type="table",
        key="metrics",
        data={"columns": ["k", "v"], "rows": [["acc", 0.9]]},
    )
    artifacts.create_artifact(
        session, flow_run_id=flow_run.id, type="link", data={"url": "https://example.org/x"}
    )
    session.commit()
    assert len(artifacts.read_artifacts(session, flow_run_id=flow_run.id)) == 3
    assert [a.id for a in artifacts.read_artifacts(session, type="notebook")] == [nb.id]
    assert [a.id for a in artifacts.read_artifacts(session, task_run_id=task_run.id)] == [table.id]
    assert artifacts.read_artifact(session, table.id).data["rows"] == [["acc", 0.9]]
    with pytest.raises(InvalidInput, match="type"):
        artifacts.create_artifact(session, flow_run_id=flow_run.id, type="image", data={})
    with pytest.raises(InvalidInput, match="url"):
        artifacts.create_artifact(session, flow_run_id=flow_run.id, type="link", data={})
    with pytest.raises(NotFound):
        artifacts.read_artifact(session, "nope")


def test_deleting_a_run_deletes_everything_under_it(session: Session) -> None:
    flow_run = make_run(session)
    task_run = runs.create_task_run(session, flow_run_id=flow_run.id, task_key="a")
    logs.insert_logs(session, [log_row(flow_run.id, "x", task_run_id=task_run.id)])
    artifacts.create_artifact(session, flow_run_id=flow_run.id, type="link", data={"url": "u"})
    session.commit()

    assert run_queries.delete_flow_run(session, flow_run.id)
    session.commit()
    assert not run_queries.delete_flow_run(session, flow_run.id)
    assert run_queries.read_task_runs(session, flow_run.id) == []
    assert logs.read_logs(session, flow_run_id=flow_run.id) == []
    assert artifacts.read_artifacts(session, flow_run_id=flow_run.id) == []
    assert runs.read_state_history(session, task_run) == []
    assert runs.read_state_history(session, flow_run) == []


def test_deleting_a_group_deletes_its_runs(session: Session) -> None:
    from jupyter_flows.store.models import FlowGroup

    group = make_group(session)
    make_run(session, group)
    session.commit()
    session.delete(session.get_one(FlowGroup, group.id))
    session.commit()
    assert run_queries.count_flow_runs(session) == 0


def test_runs_of_an_agent(session: Session) -> None:
    queue = queues.create_work_queue(session, "q")
    agent = queues.register_agent(session, "a")
    claimed = make_run(session, work_queue_id=queue.id, scheduled_time=T0)
    make_run(session, work_queue_id=queue.id, scheduled_time=T0 + timedelta(days=1))
    session.commit()
    assert queues.claim_next_run(session, queue.id, agent.id, now=T0) is not None
    session.commit()
    found = run_queries.read_flow_runs(session, FlowRunFilter(agent_ids=[agent.id]))
    assert [r.id for r in found] == [claimed.id]
    assert [r.id for r in queues.read_active_runs(session, queue.id)] == [claimed.id]


def test_late_runs(session: Session) -> None:
    overdue = make_run(session, scheduled_time=T0, name="overdue")
    make_run(session, scheduled_time=T0 + timedelta(minutes=10), name="on time")
    already = make_run(session, scheduled_time=T0 - timedelta(hours=1), name="already late")
    runs.propose_state(session, already, State(StateType.SCHEDULED, name="Late"))
    started = make_run(session, scheduled_time=T0 - timedelta(hours=2), name="started")
    drive(session, started, StateType.RUNNING)
    session.commit()
    late = run_queries.read_late_runs(session, due_before=T0 + timedelta(minutes=1))
    assert [r.name for r in late] == [overdue.name]
