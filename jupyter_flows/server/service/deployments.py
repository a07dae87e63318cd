"""Deployments: a flow set up to run (parameters, work queue, schedule), and their runs.

:func:`ensure_deployment` is the one rule for "the deployment of a registered flow":
``PUT flows/{id}/deployments/{name}``, the notebook registration and, through the client,
``jupyter flows register`` and the ``%flow`` magic all use it.
"""

from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.server.errors import InvalidInput
from jupyter_flows.server.event_bus import emit, flow_run_message
from jupyter_flows.server.service import iso, page
from jupyter_flows.server.service.flows import check_parameters
from jupyter_flows.server.service.runs import TRIGGER_TAG, one_flow_run_out
from jupyter_flows.store import deployments as store_deployments
from jupyter_flows.store import flows as store_flows
from jupyter_flows.store import queues as store_queues
from jupyter_flows.store import runs as store_runs
from jupyter_flows.store.models import Deployment, FlowVersion, Schedule, WorkQueue
from jupyter_flows.store.types import utcnow

if TYPE_CHECKING:
    from jupyter_flows.server.wire import (
        CreateDeployment,
        CronSchedule,
        EnsureDeployment,
        IntervalSchedule,
        RunDeployment,
        UpdateDeployment,
    )


def schedule_out(schedule: Schedule | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    if schedule.kind == "interval":
        return {"interval_seconds": schedule.interval_seconds, "anchor": iso(schedule.anchor_date)}
    return {"cron": schedule.cron, "timezone": schedule.timezone}


def deployment_out(session: Session, deployment: Deployment) -> dict[str, Any]:
    queue = session.get(WorkQueue, deployment.work_queue_id) if deployment.work_queue_id else None
    schedules = store_deployments.read_schedules(session, deployment.id)
    return {
        "id": deployment.id,
        "flow_id": deployment.flow_group_id,
        "name": deployment.name,
        "description": deployment.description,
        "version_policy": deployment.version_policy,
        "version_id": deployment.pinned_version_id,
        "parameters": deployment.parameters,
        "work_queue": queue.name if queue else None,
        "tags": deployment.tags,
        "paused": deployment.paused,
        "schedule": schedule_out(schedules[0] if schedules else None),
        "retention": {
            "keep_runs": deployment.retention_keep_runs,
            "keep_days": deployment.retention_keep_days,
            "keep_last_failure": deployment.retention_keep_last_failure,
        },
        "created": iso(deployment.created),
        "updated": iso(deployment.updated),
    }


def _set_schedule(
    session: Session, deployment_id: str, schedule: IntervalSchedule | CronSchedule | None
) -> None:
    from jupyter_flows.server.wire import CronSchedule, IntervalSchedule

    for old in store_deployments.read_schedules(session, deployment_id):
        store_deployments.delete_schedule(session, old.id)
    if isinstance(schedule, IntervalSchedule):
        store_deployments.add_schedule(
            session,
            deployment_id,
            interval=schedule.interval_seconds,
            anchor_date=schedule.anchor,
        )
    elif isinstance(schedule, CronSchedule):
        store_deployments.add_schedule(
            session, deployment_id, cron=schedule.cron, timezone=schedule.timezone
        )


def _schema_of(session: Session, version_id: str | None) -> dict[str, Any]:
    if version_id is None:
        return {}
    version = session.get(FlowVersion, version_id)
    return dict((version.content or {}).get("parameters") or {}) if version else {}


def create_deployment(session: Session, body: CreateDeployment) -> dict[str, Any]:
    store_flows.read_flow_group(session, body.flow_id)
    queue = store_queues.get_or_create_work_queue(session, body.work_queue)
    deployment = store_deployments.create_deployment(
        session,
        flow_group_id=body.flow_id,
        name=body.name,
        version_policy=body.version_policy,
        pinned_version_id=body.version_id,
        parameters=body.parameters,
        work_queue_id=queue.id,
        tags=body.tags,
        paused=body.paused,
        description=body.description,
    )
    version_id = store_deployments.resolve_version_id(session, deployment)
    check_parameters(_schema_of(session, version_id), body.parameters, partial=True)
    _set_schedule(session, deployment.id, body.schedule)
    return deployment_out(session, deployment)


#: The longest deployment name (``wire.Name``).
NAME_MAX = 200


def ensure_deployment(
    session: Session, flow_id: str, name: str, body: EnsureDeployment
) -> tuple[dict[str, Any], bool]:
    """The flow's deployment ``name``, made or brought up to date; (answer, created).

    A new deployment runs on ``body.work_queue`` (else the queue "default") on
    ``body.schedule`` (else none). An existing one changes only where the body gives a
    queue or a schedule that differs from what it has: an omitted field keeps its value,
    and sending the same body again changes nothing (so the Scheduled runs its schedule
    made stay). An interval schedule without an anchor keeps the anchor it has, so
    registering again does not shift its slots. The lookup by (flow, name) uses the store's
    unique index on those columns, however many deployments the flow has.
    """
    from jupyter_flows.server.wire import CreateDeployment, UpdateDeployment

    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput(f"a deployment's name has 1 to {NAME_MAX} characters")
    store_flows.read_flow_group(session, flow_id)
    existing = store_deployments.find_deployment(session, flow_id, name)
    if existing is None:
        create = CreateDeployment(
            flow_id=flow_id,
            name=name,
            work_queue=body.work_queue or "default",
            schedule=body.schedule,
        )
        return create_deployment(session, create), True
    changes: dict[str, Any] = {}
    if body.schedule is not None and not _same_schedule(session, existing.id, body.schedule):
        changes["schedule"] = body.schedule
    if body.work_queue is not None:
        queue = session.get(WorkQueue, existing.work_queue_id) if existing.work_queue_id else None
        if queue is None or queue.name != body.work_queue:
            changes["work_queue"] = body.work_queue
    if not changes:
        return deployment_out(session, existing), False
    return update_deployment(session, existing.id, UpdateDeployment(**changes)), False


def _same_schedule(
    session: Session, deployment_id: str, wanted: IntervalSchedule | CronSchedule
) -> bool:
    """Whether the deployment's one schedule is ``wanted`` already."""
    from jupyter_flows.server.wire import IntervalSchedule

    schedules = store_deployments.read_schedules(session, deployment_id)
    if len(schedules) != 1:
        return False
    (have,) = schedules
    if isinstance(wanted, IntervalSchedule):
        return (
            have.kind == "interval"
            and have.interval_seconds == wanted.interval_seconds
            and (wanted.anchor is None or have.anchor_date == wanted.anchor)
        )
    return (
        have.kind == "cron"
        and have.cron == " ".join(wanted.cron.split())
        and have.timezone == wanted.timezone
    )


def read_deployment(session: Session, deployment_id: str) -> dict[str, Any]:
    return deployment_out(session, store_deployments.read_deployment(session, deployment_id))


def list_deployments(
    session: Session, *, flow_id: str | None, limit: int, offset: int
) -> dict[str, Any]:
    where = [Deployment.flow_group_id == flow_id] if flow_id is not None else []
    total = session.scalar(sa.select(sa.func.count()).select_from(Deployment).where(*where))
    rows = store_deployments.read_deployments(
        session, flow_group_id=flow_id, limit=limit, offset=offset
    )
    return page([deployment_out(session, d) for d in rows], int(total or 0), limit, offset)


def update_deployment(session: Session, deployment_id: str, body: UpdateDeployment) -> dict:
    given = body.model_fields_set
    for required in ("name", "version_policy", "parameters", "work_queue", "tags", "paused"):
        if required in given and getattr(body, required) is None:
            raise InvalidInput(f"{required} cannot be null")
    changes: dict[str, Any] = {}
    for field in ("name", "description", "version_policy", "parameters", "tags", "paused"):
        if field in given:
            changes[field] = getattr(body, field)
    if "version_id" in given:
        changes["pinned_version_id"] = body.version_id
    if "retention" in given:
        retention = body.retention
        changes["retention_keep_runs"] = retention.keep_runs if retention else None
        changes["retention_keep_days"] = retention.keep_days if retention else None
        changes["retention_keep_last_failure"] = retention.keep_last_failure if retention else None
    if "work_queue" in given:
        assert body.work_queue is not None
        changes["work_queue_id"] = store_queues.get_or_create_work_queue(
            session, body.work_queue
        ).id
    was_paused = store_deployments.read_deployment(session, deployment_id).paused
    deployment = store_deployments.update_deployment(session, deployment_id, **changes)
    if "parameters" in given:
        version_id = store_deployments.resolve_version_id(session, deployment)
        check_parameters(_schema_of(session, version_id), deployment.parameters, partial=True)
    if "schedule" in given:
        _set_schedule(session, deployment_id, body.schedule)
    if "schedule" in given or (deployment.paused and not was_paused):
        _remove_scheduled_runs(session, deployment_id)  # the scheduler refills from the new one
    return deployment_out(session, deployment)


def delete_deployment(session: Session, deployment_id: str) -> None:
    store_deployments.read_deployment(session, deployment_id)
    _remove_scheduled_runs(session, deployment_id)
    store_deployments.delete_deployment(session, deployment_id)


def pause_deployment(session: Session, deployment_id: str, paused: bool) -> dict[str, Any]:
    deployment = store_deployments.update_deployment(session, deployment_id, paused=paused)
    if paused:
        _remove_scheduled_runs(session, deployment_id)
    return deployment_out(session, deployment)


def _remove_scheduled_runs(session: Session, deployment_id: str) -> int:
    """Delete the runs the schedule made that have not started (the scheduler makes them
    again on resume: their slots are free). Runs asked for by hand, and retries, stay."""
    return store_runs.delete_scheduled_runs(session, deployment_id)


def _run_tags(body: RunDeployment, deployment: Deployment) -> list[str]:
    """The body's tags (else the deployment's), and where the request came from."""
    tags = list(body.tags if body.tags is not None else deployment.tags)
    if body.trigger is not None:
        tags.append(f"{TRIGGER_TAG}{body.trigger}")
    return tags


def run_deployment(session: Session, deployment_id: str, body: RunDeployment) -> dict[str, Any]:
    """A Scheduled run of the deployment, its parameters checked against the flow version."""
    deployment = store_deployments.read_deployment(session, deployment_id)
    version_id = store_deployments.resolve_version_id(session, deployment)
    parameters = {**deployment.parameters, **body.parameters}
    check_parameters(_schema_of(session, version_id), parameters)
    when = body.scheduled_start or utcnow()
    run = store_runs.create_flow_run(
        session,
        flow_group_id=deployment.flow_group_id,
        state=State(StateType.SCHEDULED, timestamp=utcnow()),
        scheduled_time=when.astimezone(timezone.utc),
        flow_version_id=version_id,
        deployment_id=deployment.id,
        work_queue_id=deployment.work_queue_id,
        parameters=parameters,
        tags=_run_tags(body, deployment),
    )
    out = one_flow_run_out(session, run)
    emit(session, [flow_run_message(out)])
    return out
