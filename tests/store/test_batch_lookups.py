"""Lookups of a batch by id are planned with their values, never as prepared statements.

On PostgreSQL psycopg prepares a statement once it has run a few times and the server then
keeps one generic plan for it; for ``WHERE id IN (…hundreds of ids…)`` made while the table
was small, that plan scans the whole table, however large it grows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store import run_queries
from jupyter_flows.store.models import FlowRun
from tests.store.factories import make_group, make_run


def _prepared(session: Session) -> list[str]:
    return list(session.scalars(sa.text("SELECT statement FROM pg_prepared_statements")))


def test_batch_lookups_are_never_prepared(session: Session, backend: str) -> None:
    group = make_group(session)
    ids = [make_run(session, group).id for _ in range(3)]
    lookup = sa.select(FlowRun.id).where(FlowRun.id.in_(ids))

    for _ in range(12):
        with run_queries.planned_with_values(session):
            assert sorted(session.scalars(lookup)) == sorted(ids)
    if backend != "postgres":
        return
    assert not [s for s in _prepared(session) if "flow_runs.id IN" in s]

    for _ in range(12):  # outside, psycopg prepares as it always does
        session.scalars(lookup).all()
    assert [s for s in _prepared(session) if "flow_runs.id IN" in s]
