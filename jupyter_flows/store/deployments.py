"""Deployments (a flow group set up to run) and their schedules.

The store keeps schedule definitions only; turning them into slot times is the scheduler's
job, which then calls ``runs.insert_scheduled_runs``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store.errors import Conflict, InvalidInput, NotFound
from jupyter_flows.store.models import Deployment, FlowGroup, FlowVersion, Schedule
from jupyter_flows.store.types import utcnow

VERSION_POLICIES = ("latest", "pinned")
#: Fields update_deployment may change.
_UPDATABLE = frozenset(
    {
        "name",
        "description",
        "version_policy",
        "pinned_version_id",
        "parameters",
        "work_queue_id",
        "tags",
        "paused",
        "retention_keep_runs",
        "retention_keep_days",
        "retention_keep_last_failure",
    }
)
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?LW#]+$")
_CRON_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)


def create_deployment(
    session: Session,
    *,
    flow_group_id: str,
    name: str,
    version_policy: str = "latest",
    pinned_version_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    work_queue_id: str | None = None,
    tags: Sequence[str] = (),
    paused: bool = False,
    description: str | None = None,
) -> Deployment:
    if session.get(FlowGroup, flow_group_id) is None:
        raise NotFound("flow group", flow_group_id)
    if find_deployment(session, flow_group_id, name) is not None:
        raise Conflict(f"flow group {flow_group_id} already has a deployment named {name!r}")
    deployment = Deployment(
        flow_group_id=flow_group_id,
        name=name,
        version_policy=version_policy,
        pinned_version_id=pinned_version_id,
        parameters=dict(parameters or {}),
        work_queue_id=work_queue_id,
        tags=list(tags),
        paused=paused,
        description=description,
    )
    _check_policy(session, deployment)
    session.add(deployment)
    session.flush()
    return deployment


def read_deployment(session: Session, deployment_id: str) -> Deployment:
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        raise NotFound("deployment", deployment_id)
    return deployment


def find_deployment(session: Session, flow_group_id: str, name: str) -> Deployment | None:
    query = sa.select(Deployment).where(
        Deployment.flow_group_id == flow_group_id, Deployment.name == name
    )
    return session.scalars(query).one_or_none()


def read_deployments(
    session: Session,
    *,
    flow_group_id: str | None = None,
    work_queue_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Deployment]:
    query = sa.select(Deployment).order_by(Deployment.name, Deployment.id)
    if flow_group_id is not None:
        query = query.where(Deployment.flow_group_id == flow_group_id)
    if work_queue_id is not None:
        query = query.where(Deployment.work_queue_id == work_queue_id)
    return list(session.scalars(query.limit(limit).offset(offset)))


def update_deployment(session: Session, deployment_id: str, **changes: Any) -> Deployment:
    """Change some of a deployment's settings (see ``_UPDATABLE``)."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise InvalidInput(f"cannot update deployment fields: {', '.join(sorted(unknown))}")
    deployment = read_deployment(session, deployment_id)
    new_name = changes.get("name", deployment.name)
    if new_name != deployment.name and find_deployment(session, deployment.flow_group_id, new_name):
        raise Conflict(f"a deployment named {new_name!r} already exists")
    if changes.get("version_policy") == "latest":
        changes.setdefault("pinned_version_id", None)
    for key, value in changes.items():
        if key == "tags":
            value = list(value)
        elif key == "parameters":
            value = dict(value)
        setattr(deployment, key, value)
    _check_policy(session, deployment)
    session.flush()
    return deployment


def delete_deployment(session: Session, deployment_id: str) -> bool:
    """Delete a deployment and its schedules; its runs stay, without a deployment."""
    result = session.execute(sa.delete(Deployment).where(Deployment.id == deployment_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def resolve_version_id(session: Session, deployment: Deployment) -> str | None:
    """The version a run of ``deployment`` should run now: pinned, or the flow's latest."""
    if deployment.version_policy == "pinned":
        return deployment.pinned_version_id
    group = session.get_one(FlowGroup, deployment.flow_group_id)
    return group.latest_version_id


def _check_policy(session: Session, deployment: Deployment) -> None:
    if deployment.version_policy not in VERSION_POLICIES:
        raise InvalidInput(
            f"version_policy must be one of {', '.join(VERSION_POLICIES)}, "
            f"not {deployment.version_policy!r}"
        )
    if deployment.version_policy == "latest":
        if deployment.pinned_version_id is not None:
            raise InvalidInput("pinned_version_id is only for version_policy 'pinned'")
        return
    if deployment.pinned_version_id is None:
        raise InvalidInput("version_policy 'pinned' needs a pinned_version_id")
    version = session.get(FlowVersion, deployment.pinned_version_id)
    if version is None or version.flow_group_id != deployment.flow_group_id:
        raise InvalidInput(
            f"flow version {deployment.pinned_version_id!r} is not a version of this flow"
        )


# ------------------------------------------------------------------ schedules


def add_schedule(
    session: Session,
    deployment_id: str,
    *,
    interval: timedelta | float | None = None,
    anchor_date: datetime | None = None,
    cron: str | None = None,
    timezone: str = "UTC",
    active: bool = True,
) -> Schedule:
    """Add an interval schedule (every ``interval`` from ``anchor_date``, default now) or a
    cron schedule (``cron`` read in ``timezone``) to a deployment."""
    read_deployment(session, deployment_id)
    _check_timezone(timezone)
    if (interval is None) == (cron is None):
        raise InvalidInput("a schedule has either an interval or a cron line")
    if interval is not None:
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
        if not seconds > 0:
            raise InvalidInput("a schedule's interval must be positive")
        anchor = anchor_date or utcnow()
        if anchor.tzinfo is None:
            raise InvalidInput("anchor_date must be timezone-aware")
        schedule = Schedule(
            deployment_id=deployment_id,
            kind="interval",
            interval_seconds=float(seconds),
            anchor_date=anchor,
            timezone=timezone,
            active=active,
        )
    else:
        assert cron is not None
        schedule = Schedule(
            deployment_id=deployment_id,
            kind="cron",
            cron=_check_cron(cron),
            timezone=timezone,
            active=active,
        )
    session.add(schedule)
    session.flush()
    return schedule


def read_schedules(session: Session, deployment_id: str) -> list[Schedule]:
    query = sa.select(Schedule).where(Schedule.deployment_id == deployment_id)
    return list(session.scalars(query.order_by(Schedule.created, Schedule.id)))


def set_schedule_active(session: Session, schedule_id: str, active: bool) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound("schedule", schedule_id)
    schedule.active = active
    session.flush()
    return schedule


def delete_schedule(session: Session, schedule_id: str) -> bool:
    result = session.execute(sa.delete(Schedule).where(Schedule.id == schedule_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def read_active_schedules(session: Session) -> list[tuple[Deployment, Schedule]]:
    """What the scheduler works from: active schedules of deployments that are not paused."""
    query = (
        sa.select(Deployment, Schedule)
        .join(Schedule, Schedule.deployment_id == Deployment.id)
        .where(Schedule.active.is_(True), Deployment.paused.is_(False))
        .order_by(Deployment.id, Schedule.id)
    )
    return [(d, s) for d, s in session.execute(query)]


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown timezone {name!r}") from None


def _check_cron(line: str) -> str:
    """A shape check only (the scheduler's cron library has the last word)."""
    line = " ".join(line.split())
    if line.lower() in _CRON_MACROS:
        return line.lower()
    fields = line.split(" ")
    if len(fields) not in (5, 6) or not all(_CRON_FIELD.match(f) for f in fields):
        raise InvalidInput(f"not a cron line: {line!r} (expected 5 fields, e.g. '0 9 * * 1-5')")
    return line
