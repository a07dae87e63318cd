"""Reading flow runs and task runs: by id, and filtered lists with pagination.

Filters are plain frozen dataclasses so the API layer can build them from query strings
and tests can build them by hand; ``None`` in a field means "do not filter on this".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import StateType
from jupyter_flows.store.errors import InvalidInput, NotFound
from jupyter_flows.store.models import FlowRun, TaskRun
from jupyter_flows.store.types import json_contains_all

#: Largest page any list query returns.
MAX_LIMIT = 1000

FlowRunSort = Literal[
    "expected_start_desc",
    "expected_start_asc",
    "created_desc",
    "state_asc",
    "state_desc",
    "duration_asc",
    "duration_desc",
]

#: States in the order of a run's life (the history sorted by state groups them so).
_STATE_ORDER = sa.case(
    {state: index for index, state in enumerate(StateType)},
    value=FlowRun.state_type,
    else_=len(StateType),
)


@dataclass(frozen=True, kw_only=True)
class FlowRunFilter:
    ids: Sequence[str] | None = None
    flow_group_ids: Sequence[str] | None = None
    flow_version_ids: Sequence[str] | None = None
    deployment_ids: Sequence[str] | None = None
    work_queue_ids: Sequence[str] | None = None
    parent_flow_run_ids: Sequence[str] | None = None
    parent_task_run_ids: Sequence[str] | None = None
    #: Runs claimed by these agents (the reaper's question about a silent agent).
    agent_ids: Sequence[str] | None = None
    #: Runs a backfill made.
    backfill_ids: Sequence[str] | None = None
    state_types: Sequence[StateType] | None = None
    #: Runs that carry every one of these tags.
    tags: Sequence[str] | None = None
    #: Runs expected to start in [start_after, start_before).
    start_after: datetime | None = None
    start_before: datetime | None = None


@contextlib.contextmanager
def planned_with_values(session: Session) -> Iterator[None]:
    """Statements run inside are planned with their values each time, never as prepared
    statements (PostgreSQL through psycopg; elsewhere this does nothing).

    For the lookups of a batch by id (``WHERE id IN (…hundreds of ids…)``): psycopg
    prepares a statement once it has run a few times, and PostgreSQL then keeps one
    generic plan for it. Made while a table is small, that plan is a sequential scan
    testing each row against the whole list, and it is kept as the table grows: at
    40,000 runs a batch of 300 new runs took ~20× longer than at 3,000. Planned with its
    values the same lookup is an index scan, or a scan with a hashed list.
    """
    dbapi: Any = session.connection().connection.dbapi_connection
    threshold = getattr(dbapi, "prepare_threshold", None)
    if threshold is None:  # not psycopg, or preparing already off
        yield
        return
    dbapi.prepare_threshold = None
    try:
        yield
    finally:
        dbapi.prepare_threshold = threshold


#: Values per ``IN (…)`` of a batch lookup: well under SQLite's bound-parameter limit.
IN_CHUNK = 5000


def rows_in(session: Session, query: Any, column: Any, values: Sequence[Any]) -> list[Any]:
    """The rows of ``query`` where ``column`` is one of ``values``: a batch's lookup by id,
    in chunks of :data:`IN_CHUNK` values, each :func:`planned_with_values`."""
    rows: list[Any] = []
    if not values:
        return rows
    with planned_with_values(session):
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            rows.extend(session.execute(query.where(column.in_(chunk))))
    return rows


def read_flow_run(session: Session, flow_run_id: str) -> FlowRun:
    run = session.get(FlowRun, flow_run_id)
    if run is None:
        raise NotFound("flow run", flow_run_id)
    return run


def read_flow_runs(
    session: Session,
    flt: FlowRunFilter | None = None,
    *,
    limit: int = 100,
    offset: int = 0,
    sort: FlowRunSort = "expected_start_desc",
) -> list[FlowRun]:
    """Flow runs matching ``flt``, one page of them, newest expected start first by default.

    By state: in the order of a run's life (Scheduled first), newest first within one
    state. By duration: the time spent running (``total_run_time``, known once a run ends),
    newest first among equals.
    """
    newest = (FlowRun.expected_start_time.desc(), FlowRun.id.desc())
    order: dict[str, tuple[Any, ...]] = {
        "expected_start_desc": newest,
        "expected_start_asc": (FlowRun.expected_start_time.asc(), FlowRun.id.asc()),
        "created_desc": (FlowRun.created.desc(), FlowRun.id.desc()),
        "state_asc": (_STATE_ORDER.asc(), *newest),
        "state_desc": (_STATE_ORDER.desc(), *newest),
        "duration_asc": (FlowRun.total_run_time.asc(), *newest),
        "duration_desc": (FlowRun.total_run_time.desc(), *newest),
    }
    if sort not in order:
        raise InvalidInput(f"unknown sort {sort!r}; one of: {', '.join(order)}")
    query = _filtered(session, sa.select(FlowRun), flt).order_by(*order[sort])
    return list(session.scalars(_page(query, limit, offset)))


def count_flow_runs(session: Session, flt: FlowRunFilter | None = None) -> int:
    query = _filtered(session, sa.select(sa.func.count()).select_from(FlowRun), flt)
    return int(session.scalar(query) or 0)


def count_flow_runs_by_state(
    session: Session, flt: FlowRunFilter | None = None
) -> dict[StateType, int]:
    """How many runs are in each state type (the sidebar's summary)."""
    query = _filtered(
        session,
        sa.select(FlowRun.state_type, sa.func.count()).group_by(FlowRun.state_type),
        flt,
    )
    return {state: count for state, count in session.execute(query) if state}


def read_late_runs(session: Session, *, due_before: datetime, limit: int = 100) -> list[FlowRun]:
    """Scheduled runs due before ``due_before`` not yet marked Late, most overdue first.

    The late-run service passes ``now - grace`` and proposes a ``Late`` state for each.
    """
    query = (
        sa.select(FlowRun)
        .where(
            FlowRun.state_type == StateType.SCHEDULED,
            FlowRun.next_scheduled_start_time < due_before,
            FlowRun.state_name != "Late",
        )
        .order_by(FlowRun.next_scheduled_start_time, FlowRun.id)
    )
    return list(session.scalars(_page(query, limit, 0)))


def delete_flow_run(session: Session, flow_run_id: str) -> bool:
    """Delete a run with its task runs, states, logs and artifacts. False if none."""
    result = session.execute(sa.delete(FlowRun).where(FlowRun.id == flow_run_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def read_task_run(session: Session, task_run_id: str) -> TaskRun:
    run = session.get(TaskRun, task_run_id)
    if run is None:
        raise NotFound("task run", task_run_id)
    return run


def read_task_runs(
    session: Session,
    flow_run_id: str,
    *,
    state_types: Sequence[StateType] | None = None,
    limit: int = MAX_LIMIT,
    offset: int = 0,
) -> list[TaskRun]:
    """The task runs of one flow run, in the order they were created."""
    query = sa.select(TaskRun).where(TaskRun.flow_run_id == flow_run_id)
    if state_types is not None:
        query = query.where(TaskRun.state_type.in_(list(state_types)))
    query = query.order_by(TaskRun.created, TaskRun.id)
    return list(session.scalars(_page(query, limit, offset)))


def _filtered(session: Session, query: Any, flt: FlowRunFilter | None) -> Any:
    if flt is None:
        return query
    column_filters = [
        (FlowRun.id, flt.ids),
        (FlowRun.flow_group_id, flt.flow_group_ids),
        (FlowRun.flow_version_id, flt.flow_version_ids),
        (FlowRun.deployment_id, flt.deployment_ids),
        (FlowRun.backfill_id, flt.backfill_ids),
        (FlowRun.work_queue_id, flt.work_queue_ids),
        (FlowRun.parent_flow_run_id, flt.parent_flow_run_ids),
        (FlowRun.parent_task_run_id, flt.parent_task_run_ids),
        (FlowRun.agent_id, flt.agent_ids),
        (FlowRun.state_type, flt.state_types),
    ]
    for column, wanted in column_filters:
        if wanted is not None:
            query = query.where(column.in_(list(wanted)))
    if flt.tags:
        dialect = session.get_bind().dialect.name
        query = query.where(json_contains_all(FlowRun.tags, flt.tags, dialect))
    if flt.start_after is not None:
        query = query.where(FlowRun.expected_start_time >= flt.start_after)
    if flt.start_before is not None:
        query = query.where(FlowRun.expected_start_time < flt.start_before)
    return query


def _page(query: Any, limit: int, offset: int) -> Any:
    if not 0 < limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    return query.limit(limit).offset(offset)
