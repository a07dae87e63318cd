"""Backfills: the runs a deployment's schedule would have made in a past window, or one run
per value of a parameter; previewed, capped, idempotent, cancellable as a group.

The window's slots are the scheduler's own (``background/schedules.next_slots`` over every
active schedule of the deployment, the same DST rules), from ``start`` to ``end``, both
included. When the flow's parameter schema has the *slot parameter* (``scheduled_time``
unless the request names another), each run gets its slot there as an ISO 8601 UTC string
(``2026-03-29T01:00:00+00:00``); every run's expected start time is its slot. The runs are
made by ``store.backfills.release`` as the cap allows, the first at once and the rest by the
backfill service (``background/backfills.py``) as earlier ones finish.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from jupyter_flows.engine.states import FINAL_TYPES, State, StateType
from jupyter_flows.server.background.schedules import next_slots
from jupyter_flows.server.errors import InvalidInput
from jupyter_flows.server.event_bus import emit, flow_run_message
from jupyter_flows.server.service import iso
from jupyter_flows.server.service.flows import check_parameters
from jupyter_flows.server.service.run_states import apply_state
from jupyter_flows.server.service.runs import flow_runs_out
from jupyter_flows.store import backfills as store_backfills
from jupyter_flows.store import deployments as store_deployments
from jupyter_flows.store.models import Backfill, Deployment, FlowVersion
from jupyter_flows.store.types import UTC, utcnow

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateBackfill

#: The parameter that receives a run's slot, when the flow has it.
SLOT_PARAMETER = "scheduled_time"
#: Most runs one backfill may plan.
MAX_ITEMS = 10_000


def plan(session: Session, deployment: Deployment, body: CreateBackfill) -> list[dict[str, Any]]:
    """The backfill's items, in order: ``{"key", "slot", "parameters"}``; 400 if the
    request cannot be planned (no schedule, too many runs, parameters that do not fit)."""
    version_id = store_deployments.resolve_version_id(session, deployment)
    version = session.get(FlowVersion, version_id) if version_id else None
    schema = dict((version.content or {}).get("parameters") or {}) if version else {}
    properties = schema.get("properties") or {}
    items: list[dict[str, Any]] = []
    if body.start is not None and body.end is not None:
        slot_parameter = body.slot_parameter or SLOT_PARAMETER
        if body.slot_parameter and slot_parameter not in properties:
            raise InvalidInput(f"the flow has no parameter {slot_parameter!r} for the slot time")
        takes_slot = slot_parameter in properties
        for slot in _window_slots(session, deployment, body.start, body.end):
            parameters = dict(deployment.parameters)
            if takes_slot:
                parameters[slot_parameter] = slot.isoformat()
            items.append(
                {"key": slot.isoformat(), "slot": slot.isoformat(), "parameters": parameters}
            )
    else:
        assert body.parameter is not None and body.values is not None
        for value in body.values:
            parameters = {**deployment.parameters, body.parameter: value}
            text = json.dumps([body.parameter, value], sort_keys=True, separators=(",", ":"))
            key = "p:" + hashlib.sha256(text.encode()).hexdigest()[:32]
            items.append({"key": key, "slot": None, "parameters": parameters})
        if len({item["key"] for item in items}) != len(items):
            raise InvalidInput("the values repeat: each makes one run")
    for item in items:
        check_parameters(schema, item["parameters"])
    return items


def _window_slots(
    session: Session, deployment: Deployment, start: datetime, end: datetime
) -> list[datetime]:
    if end < start:
        raise InvalidInput("the window's end is before its start")
    if end > utcnow():
        raise InvalidInput("a backfill's window is in the past: its end is later than now")
    schedules = [s for s in store_deployments.read_schedules(session, deployment.id) if s.active]
    if not schedules:
        raise InvalidInput(f"deployment {deployment.name!r} has no schedule to backfill")
    slots: set[datetime] = set()
    after = start.astimezone(UTC) - timedelta(microseconds=1)  # the start is included
    for schedule in schedules:
        try:
            found = next_slots(schedule, after, end.astimezone(UTC), MAX_ITEMS + 1)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        slots.update(found)
    if len(slots) > MAX_ITEMS:
        raise InvalidInput(f"the window holds more than {MAX_ITEMS} slots: backfill less at once")
    return sorted(slots)


def request_key(body: CreateBackfill) -> str:
    """What makes two requests the same backfill (the cap aside)."""
    asked = body.model_dump(mode="json", exclude={"dry_run", "max_concurrent"})
    text = json.dumps(asked, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def create_backfill(
    session: Session, deployment_id: str, body: CreateBackfill
) -> tuple[dict[str, Any], bool]:
    """Preview (``dry_run``) or make the backfill; (answer, created)."""
    deployment = store_deployments.read_deployment(session, deployment_id)
    items = plan(session, deployment, body)
    if body.dry_run:
        existing = store_backfills.existing_keys(session, deployment, items)
        return {
            "dry_run": True,
            "deployment_id": deployment.id,
            "total": len(items),
            "new": sum(1 for item in items if item["key"] not in existing),
            "items": [
                {
                    "slot": item["slot"],
                    "parameters": item["parameters"],
                    "exists": item["key"] in existing,
                }
                for item in items
            ],
        }, False
    now = utcnow()
    backfill, created = store_backfills.create_backfill(
        session,
        deployment,
        key=request_key(body),
        items=items,
        window_start=body.start,
        window_end=body.end,
        max_concurrent=body.max_concurrent,
        now=now,
    )
    if created:
        release(session, backfill.id, now=now)
    return backfill_out(session, backfill), created


def release(session: Session, backfill_id: str, *, now: datetime | None = None) -> int:
    """Make the backfill's next runs as its cap allows (announced after the commit)."""
    backfill = store_backfills.read_backfill(session, backfill_id)
    deployment = store_deployments.read_deployment(session, backfill.deployment_id)
    version_id = store_deployments.resolve_version_id(session, deployment)
    runs = store_backfills.release(
        session, backfill_id, now=now or utcnow(), flow_version_id=version_id
    )
    if runs:
        emit(session, [flow_run_message(out) for out in flow_runs_out(session, runs)])
    return len(runs)


def read_backfill(session: Session, backfill_id: str) -> dict[str, Any]:
    return backfill_out(session, store_backfills.read_backfill(session, backfill_id))


def list_backfills(
    session: Session, deployment_id: str, *, limit: int, offset: int
) -> dict[str, Any]:
    """The deployment's backfills, newest first, each with its runs by state."""
    store_deployments.read_deployment(session, deployment_id)  # 404 for an unknown one
    rows, total = store_backfills.read_deployment_backfills(
        session, deployment_id, limit=limit, offset=offset
    )
    items = [backfill_out(session, backfill) for backfill in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def cancel_backfill(session: Session, backfill_id: str) -> dict[str, Any]:
    """No more runs; its runs not started are Cancelled, running ones Cancelling."""
    backfill = store_backfills.read_backfill(session, backfill_id, for_update=True)
    if backfill.status == "running":
        backfill.status = "cancelled"
        backfill.cancelled_at = utcnow()
    for run in store_backfills.unfinished_runs(session, backfill_id):
        if run.state_type in (StateType.SCHEDULED, StateType.PENDING):
            state = State(StateType.CANCELLED, message="backfill cancelled")
        elif run.state_type in (StateType.RUNNING, StateType.RETRYING):
            state = State(StateType.CANCELLING, message="backfill cancelled")
        else:
            continue  # Cancelling already
        apply_state(session, "flow_run", run, state)
    session.flush()
    return backfill_out(session, backfill)


def backfill_out(session: Session, backfill: Backfill) -> dict[str, Any]:
    by_state = store_backfills.count_by_state(session, backfill.id)
    unfinished = sum(n for state, n in by_state.items() if StateType(state) not in FINAL_TYPES)
    status = backfill.status
    if status == "running" and backfill.next_index >= backfill.size and not unfinished:
        status = "completed"
    return {
        "id": backfill.id,
        "deployment_id": backfill.deployment_id,
        "status": status,
        "start": iso(backfill.window_start),
        "end": iso(backfill.window_end),
        "max_concurrent": backfill.max_concurrent,
        "total": backfill.size,
        "planned": backfill.next_index,
        "runs": sum(by_state.values()),
        "states": by_state,
        "created": iso(backfill.created),
        "cancelled_at": iso(backfill.cancelled_at),
    }
