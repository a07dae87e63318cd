"""Backfills: a planned list of runs of one deployment, made as its cap allows, exactly once.

A backfill's ``items`` are fixed when it is made (``server/service/backfills.py`` plans
them: a schedule's slots in a past window, or one per value of a parameter). Runs are made
by :func:`release`, in item order, while fewer than ``max_concurrent`` of the backfill's
runs are unfinished; the creating request and then the backfill service call it. Each run's
idempotency key is ``backfill:<deployment>:<item key>``, unique per flow like the
scheduler's ``scheduled:<deployment>:<slot>``: the same slot asked for by two backfills, or
by one asked for twice, is one run; a slot the scheduler already ran is not made again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import FINAL_TYPES, State, StateType
from jupyter_flows.store.errors import NotFound
from jupyter_flows.store.models import Backfill, Deployment, FlowRun
from jupyter_flows.store.runs import (
    Proposal,
    _insert_new,
    _propose_all,
    scheduled_run_key,
)
from jupyter_flows.store.types import UTC, dialect_insert, new_id

BACKFILL_KEY_PREFIX = "backfill:"


def run_key(deployment_id: str, item_key: str) -> str:
    return f"{BACKFILL_KEY_PREFIX}{deployment_id}:{item_key}"


def existing_keys(
    session: Session, deployment: Deployment, items: Sequence[dict[str, Any]]
) -> set[str]:
    """The item keys of ``items`` whose run exists already (made by any backfill, or, for a
    slot, by the scheduler)."""
    wanted: dict[str, str] = {}
    for item in items:
        wanted[run_key(deployment.id, item["key"])] = item["key"]
        if item.get("slot"):
            slot = datetime.fromisoformat(item["slot"])
            wanted[scheduled_run_key(deployment.id, slot)] = item["key"]
    found: set[str] = set()
    keys = list(wanted)
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        found.update(
            session.scalars(
                sa.select(FlowRun.idempotency_key).where(
                    FlowRun.flow_group_id == deployment.flow_group_id,
                    FlowRun.idempotency_key.in_(chunk),
                )
            )
        )
    return {wanted[k] for k in found if k is not None}


def create_backfill(
    session: Session,
    deployment: Deployment,
    *,
    key: str,
    items: list[dict[str, Any]],
    window_start: datetime | None,
    window_end: datetime | None,
    max_concurrent: int | None,
    now: datetime,
) -> tuple[Backfill, bool]:
    """The backfill of ``deployment`` asked as ``key``: made now, or the one made before
    (race-safe); (backfill, created)."""
    backfill_id = new_id()
    inserted = session.scalars(
        dialect_insert(session, Backfill)
        .values(
            id=backfill_id,
            deployment_id=deployment.id,
            key=key,
            window_start=window_start,
            window_end=window_end,
            items=items,
            size=len(items),
            next_index=0,
            max_concurrent=max_concurrent,
            status="running",
            created=now,
        )
        .on_conflict_do_nothing(index_elements=["deployment_id", "key"])
        .returning(Backfill.id)
    ).all()
    found = session.scalars(
        sa.select(Backfill).where(Backfill.deployment_id == deployment.id, Backfill.key == key)
    ).one()
    return found, bool(inserted)


def read_backfill(session: Session, backfill_id: str, *, for_update: bool = False) -> Backfill:
    query = sa.select(Backfill).where(Backfill.id == backfill_id)
    query = query.execution_options(populate_existing=True)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    backfill = session.scalars(query).one_or_none()
    if backfill is None:
        raise NotFound("backfill", backfill_id)
    return backfill


def read_deployment_backfills(
    session: Session, deployment_id: str, *, limit: int, offset: int
) -> tuple[list[Backfill], int]:
    """A deployment's backfills, newest first; and how many it has."""
    where = Backfill.deployment_id == deployment_id
    total = session.scalar(sa.select(sa.func.count()).select_from(Backfill).where(where)) or 0
    query = (
        sa.select(Backfill)
        .where(where)
        .order_by(Backfill.created.desc(), Backfill.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query)), total


def read_releasable(session: Session, *, limit: int = 100) -> list[str]:
    """Ids of running backfills with runs still to make."""
    query = (
        sa.select(Backfill.id)
        .where(Backfill.status == "running", Backfill.next_index < Backfill.size)
        .order_by(Backfill.created, Backfill.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_by_state(session: Session, backfill_id: str) -> dict[str, int]:
    query = (
        sa.select(FlowRun.state_type, sa.func.count())
        .where(FlowRun.backfill_id == backfill_id)
        .group_by(FlowRun.state_type)
    )
    return {str(state): int(n) for state, n in session.execute(query) if state is not None}


def unfinished_runs(session: Session, backfill_id: str) -> list[FlowRun]:
    query = (
        sa.select(FlowRun)
        .where(FlowRun.backfill_id == backfill_id, FlowRun.state_type.not_in(FINAL_TYPES))
        .order_by(FlowRun.id)
    )
    return list(session.scalars(query))


def release(
    session: Session, backfill_id: str, *, now: datetime, flow_version_id: str | None
) -> list[FlowRun]:
    """Make the backfill's next runs, up to its cap of unfinished runs; the runs made.

    The backfill's row is written first, so two releases of one backfill (two servers)
    take turns: on SQLite the write takes the database lock, on PostgreSQL the row lock.
    """
    session.execute(
        sa.update(Backfill)
        .where(Backfill.id == backfill_id)
        .values(next_index=Backfill.next_index)
        .execution_options(synchronize_session=False)
    )
    backfill = read_backfill(session, backfill_id, for_update=True)
    if backfill.status != "running" or backfill.next_index >= backfill.size:
        return []
    deployment = session.get_one(Deployment, backfill.deployment_id)
    if deployment.paused:
        return []  # a paused deployment starts nothing new; resumed, the backfill goes on
    unfinished = int(
        session.scalar(
            sa.select(sa.func.count()).where(
                FlowRun.backfill_id == backfill.id, FlowRun.state_type.not_in(FINAL_TYPES)
            )
        )
        or 0
    )
    free = backfill.size if backfill.max_concurrent is None else backfill.max_concurrent
    free -= unfinished
    index, made = backfill.next_index, []
    while free > 0 and index < backfill.size:
        chunk = backfill.items[index : index + free]
        index += len(chunk)
        done = existing_keys(session, deployment, chunk)
        todo = [item for item in chunk if item["key"] not in done]
        runs = _insert_runs(session, deployment, backfill.id, todo, now, flow_version_id)
        made += runs
        free -= len(runs)
    backfill.next_index = index
    session.flush()
    return made


def _insert_runs(
    session: Session,
    deployment: Deployment,
    backfill_id: str,
    items: list[dict[str, Any]],
    now: datetime,
    flow_version_id: str | None,
) -> list[FlowRun]:
    rows = []
    for item in items:
        run_id = new_id()
        slot = datetime.fromisoformat(item["slot"]) if item.get("slot") else None
        label = slot.astimezone(UTC).strftime("%Y%m%d-%H%M") if slot else item["key"][-8:]
        rows.append(
            {
                "id": run_id,
                "name": f"backfill-{label}",
                "flow_group_id": deployment.flow_group_id,
                "flow_version_id": flow_version_id,
                "deployment_id": deployment.id,
                "work_queue_id": deployment.work_queue_id,
                "parent_flow_run_id": None,
                "parent_task_run_id": None,
                "parameters": dict(item["parameters"]),
                "tags": list(deployment.tags),
                "retries": 0,
                "retry_delay_seconds": 0.0,
                "idempotency_key": run_key(deployment.id, item["key"]),
                "expected_start_time": slot or now,
                "backfill_id": backfill_id,
            }
        )
    if not rows:
        return []
    created = _insert_new(session, FlowRun, rows, ["flow_group_id", "idempotency_key"])
    runs = list(
        session.scalars(sa.select(FlowRun).where(FlowRun.id.in_(created)).order_by(FlowRun.id))
    )
    # Due now: the slot is past; its time is the run's expected start and (when the flow
    # takes one) its slot parameter.
    _propose_all(
        session, [Proposal(run, State(StateType.SCHEDULED, timestamp=now)) for run in runs]
    )
    return runs
