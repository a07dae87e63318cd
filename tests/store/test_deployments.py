"""Deployments (version policy, defaults, queue, tags, paused) and their schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from jupyter_flows.store import Conflict, InvalidInput, NotFound, deployments, flows, queues
from jupyter_flows.store.models import Deployment
from tests.store.factories import T0, content, make_group


def _deployment(session: Session, **kwargs: object) -> Deployment:
    group = make_group(session)
    return deployments.create_deployment(
        session,
        flow_group_id=group.id,
        name=str(kwargs.pop("name", "nightly")),
        **kwargs,  # type: ignore[arg-type]
    )


def test_latest_policy_follows_new_versions(session: Session) -> None:
    v1, _ = flows.register_flow_version(session, "default", "etl", content(a="h1"))
    deployment = _deployment(session, parameters={"n": 1}, tags=["prod"])
    assert deployments.resolve_version_id(session, deployment) == v1.id
    v2, _ = flows.register_flow_version(session, "default", "etl", content(a="h2"))
    assert deployments.resolve_version_id(session, deployment) == v2.id
    assert (deployment.parameters, deployment.tags, deployment.paused) == (
        {"n": 1},
        ["prod"],
        False,
    )


def test_pinned_policy_stays_on_its_version(session: Session) -> None:
    v1, _ = flows.register_flow_version(session, "default", "etl", content(a="h1"))
    deployment = _deployment(session, version_policy="pinned", pinned_version_id=v1.id)
    flows.register_flow_version(session, "default", "etl", content(a="h2"))
    assert deployments.resolve_version_id(session, deployment) == v1.id

    updated = deployments.update_deployment(session, deployment.id, version_policy="latest")
    assert updated.pinned_version_id is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version_policy": "newest"}, "version_policy must be one of"),
        ({"version_policy": "pinned"}, "needs a pinned_version_id"),
        ({"version_policy": "latest", "pinned_version_id": "x" * 64}, "only for"),
        ({"version_policy": "pinned", "pinned_version_id": "x" * 64}, "not a version of"),
    ],
)
def test_bad_policies_are_refused(session: Session, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _deployment(session, **kwargs)


def test_cannot_pin_another_flows_version(session: Session) -> None:
    other, _ = flows.register_flow_version(session, "default", "other", content(a="h1"))
    with pytest.raises(InvalidInput, match="not a version of"):
        _deployment(session, version_policy="pinned", pinned_version_id=other.id)


def test_names_are_unique_per_flow(session: Session) -> None:
    deployment = _deployment(session)
    with pytest.raises(Conflict):
        _deployment(session)
    other = _deployment(session, name="hourly")
    with pytest.raises(Conflict):
        deployments.update_deployment(session, other.id, name=deployment.name)


def test_update_read_and_delete(session: Session) -> None:
    queue = queues.create_work_queue(session, "gpu")
    deployment = _deployment(session)
    deployments.update_deployment(session, deployment.id, paused=True, work_queue_id=queue.id)
    with pytest.raises(InvalidInput, match="flow_group_id"):
        deployments.update_deployment(session, deployment.id, flow_group_id="x")
    session.commit()
    session.expire_all()
    loaded = deployments.read_deployment(session, deployment.id)
    assert (loaded.paused, loaded.work_queue_id) == (True, queue.id)
    assert [d.id for d in deployments.read_deployments(session, work_queue_id=queue.id)] == [
        deployment.id
    ]
    assert deployments.find_deployment(session, loaded.flow_group_id, "nightly") is not None
    assert deployments.delete_deployment(session, deployment.id)
    assert not deployments.delete_deployment(session, deployment.id)
    with pytest.raises(NotFound):
        deployments.read_deployment(session, deployment.id)


def test_unknown_flow_group(session: Session) -> None:
    with pytest.raises(NotFound, match="flow group"):
        deployments.create_deployment(session, flow_group_id="nope", name="x")


# ------------------------------------------------------------------ schedules


def test_interval_and_cron_schedules(session: Session) -> None:
    deployment = _deployment(session)
    every = deployments.add_schedule(
        session, deployment.id, interval=timedelta(hours=1), anchor_date=T0, timezone="Europe/Paris"
    )
    cron = deployments.add_schedule(
        session, deployment.id, cron="0  9 * * 1-5", timezone="America/New_York"
    )
    session.commit()
    session.expire_all()
    loaded = deployments.read_schedules(session, deployment.id)
    assert [s.id for s in loaded] == [every.id, cron.id]
    assert (loaded[0].kind, loaded[0].interval_seconds, loaded[0].anchor_date) == (
        "interval",
        3600.0,
        T0,
    )
    assert (loaded[1].kind, loaded[1].cron, loaded[1].timezone) == (
        "cron",
        "0 9 * * 1-5",
        "America/New_York",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either an interval or a cron"),
        ({"interval": 60, "cron": "* * * * *"}, "either an interval or a cron"),
        ({"interval": 0}, "positive"),
        ({"interval": timedelta(seconds=-5)}, "positive"),
        ({"cron": "every day"}, "not a cron line"),
        ({"cron": "* * *"}, "not a cron line"),
        ({"cron": "@daily", "timezone": "Mars/Olympus"}, "unknown timezone"),
    ],
)
def test_bad_schedules_are_refused(
    session: Session, kwargs: dict[str, object], message: str
) -> None:
    deployment = _deployment(session)
    with pytest.raises(InvalidInput, match=message):
        deployments.add_schedule(session, deployment.id, **kwargs)  # type: ignore[arg-type]


def test_active_schedules_skip_paused_deployments_and_inactive_schedules(session: Session) -> None:
    running = _deployment(session, name="running")
    paused = _deployment(session, name="paused", paused=True)
    on = deployments.add_schedule(session, running.id, cron="@hourly")
    off = deployments.add_schedule(session, running.id, interval=60)
    deployments.add_schedule(session, paused.id, cron="@daily")
    deployments.set_schedule_active(session, off.id, False)
    assert [(d.id, s.id) for d, s in deployments.read_active_schedules(session)] == [
        (running.id, on.id)
    ]
    assert deployments.delete_schedule(session, on.id)
    assert deployments.read_active_schedules(session) == []


def test_deleting_a_deployment_deletes_its_schedules(session: Session) -> None:
    deployment = _deployment(session)
    deployments.add_schedule(session, deployment.id, cron="@daily")
    session.commit()
    deployments.delete_deployment(session, deployment.id)
    session.commit()
    assert deployments.read_schedules(session, deployment.id) == []
