"""Retention: which finished runs go, deleting them with everything of theirs, and which
blobs they leave unreferenced.

A policy keeps a run if *any* of its rules keeps it: it is one of the last ``keep_runs``
finished runs of its deployment, it finished less than ``keep_days`` ago, or it is the
deployment's last failure (``keep_last_failure``). A policy with neither ``keep_runs`` nor
``keep_days`` keeps everything. Runs of no deployment are grouped by flow and follow the
default policy. Only top-level runs in a final state are candidates, and only those that
finished at least ``settle`` ago (a reporter may still be delivering their last lines);
their subflows go with them.

Deleting runs names the blobs their artifacts pointed at as *candidates*
(``blob_candidates``). :func:`due_candidates` and :func:`referenced_digests` are what the
collector (``server/service/retention.py``) needs to delete a blob only when no row names
it any more and it was marked longer than a grace period ago.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import FINAL_TYPES, StateType
from jupyter_flows.store.models import (
    Artifact,
    BlobCandidate,
    Deployment,
    FlowRun,
    FlowRunState,
    FlowVersion,
    LogLine,
    TaskRun,
    TaskRunState,
)
from jupyter_flows.store.types import dialect_insert

#: A run in one of these is a failure for ``keep_last_failure``.
FAILURE_TYPES = (StateType.FAILED, StateType.TIMED_OUT, StateType.CRASHED)
#: A run that finished less than this long ago is never deleted: its reporter may still be
#: delivering its last log lines and artifacts.
DEFAULT_SETTLE = timedelta(minutes=10)
_NOTEBOOK_MARK = "#sha256="


@dataclass(frozen=True)
class RetentionPolicy:
    """Keep the last ``keep_runs`` finished runs, runs finished within ``keep_days``, and
    the last failure; None in a rule turns it off; no rule at all keeps everything."""

    keep_runs: int | None = None
    keep_days: float | None = None
    keep_last_failure: bool = True

    def __post_init__(self) -> None:
        if self.keep_runs is not None and self.keep_runs < 0:
            raise ValueError("keep_runs cannot be negative")
        if self.keep_days is not None and self.keep_days < 0:
            raise ValueError("keep_days cannot be negative")

    @property
    def prunes(self) -> bool:
        return self.keep_runs is not None or self.keep_days is not None

    def for_deployment(self, deployment: Deployment) -> RetentionPolicy:
        """This default overridden by what ``deployment`` sets."""
        changes: dict[str, Any] = {}
        if deployment.retention_keep_runs is not None:
            changes["keep_runs"] = deployment.retention_keep_runs
        if deployment.retention_keep_days is not None:
            changes["keep_days"] = deployment.retention_keep_days
        if deployment.retention_keep_last_failure is not None:
            changes["keep_last_failure"] = deployment.retention_keep_last_failure
        return replace(self, **changes)


# ------------------------------------------------------------------ choosing runs


def prunable_runs(
    session: Session,
    default: RetentionPolicy,
    *,
    now: datetime,
    limit: int,
    settle: timedelta = DEFAULT_SETTLE,
    deployment_id: str | None = None,
) -> list[str]:
    """Ids of up to ``limit`` top-level runs the policies let go, oldest first.

    ``deployment_id``: only that deployment's runs.
    """
    chosen: list[str] = []
    for where, policy in _groups(session, default, deployment_id):
        if len(chosen) >= limit:
            break
        if policy.prunes:
            chosen += _prunable_in(session, where, policy, now, settle, limit - len(chosen))
    return chosen


def _groups(
    session: Session, default: RetentionPolicy, deployment_id: str | None
) -> Iterable[tuple[list[sa.ColumnElement[bool]], RetentionPolicy]]:
    """Each group of runs a policy applies to: a deployment's, or a flow's runs of none."""
    finished = [FlowRun.parent_flow_run_id.is_(None), FlowRun.state_type.in_(FINAL_TYPES)]
    query = sa.select(Deployment).order_by(Deployment.id)
    if deployment_id is not None:
        query = query.where(Deployment.id == deployment_id)
    for deployment in session.scalars(query):
        yield [FlowRun.deployment_id == deployment.id], default.for_deployment(deployment)
    if deployment_id is not None or not default.prunes:
        return  # runs of no deployment follow the default: nothing to look for
    flows = session.scalars(
        sa.select(FlowRun.flow_group_id)
        .where(FlowRun.deployment_id.is_(None), *finished)
        .distinct()
        .order_by(FlowRun.flow_group_id)
    )
    for flow_group_id in list(flows):
        where = [FlowRun.deployment_id.is_(None), FlowRun.flow_group_id == flow_group_id]
        yield where, default


def _prunable_in(
    session: Session,
    where: list[sa.ColumnElement[bool]],
    policy: RetentionPolicy,
    now: datetime,
    settle: timedelta,
    limit: int,
) -> list[str]:
    base = [*where, FlowRun.parent_flow_run_id.is_(None), FlowRun.state_type.in_(FINAL_TYPES)]
    newest_first = (FlowRun.created.desc(), FlowRun.id.desc())
    ranked = sa.select(
        FlowRun.id,
        FlowRun.created,
        FlowRun.end_time,
        sa.func.row_number().over(order_by=newest_first).label("rank"),
    ).where(*base)
    sub = ranked.subquery()
    ended = sa.func.coalesce(sub.c.end_time, sub.c.created)
    conditions = [ended < now - settle]
    if policy.keep_last_failure:
        last_failure = session.scalar(
            sa.select(FlowRun.id)
            .where(*base, FlowRun.state_type.in_(FAILURE_TYPES))
            .order_by(*newest_first)
            .limit(1)
        )
        if last_failure is not None:
            conditions.append(sub.c.id != last_failure)
    if policy.keep_runs is not None:
        conditions.append(sub.c.rank > policy.keep_runs)
    if policy.keep_days is not None:
        conditions.append(ended < now - timedelta(days=policy.keep_days))
    query = sa.select(sub.c.id).where(*conditions).order_by(sub.c.created, sub.c.id).limit(limit)
    return list(session.scalars(query))


# ------------------------------------------------------------------ deleting runs


@dataclass
class Deleted:
    """What one :func:`delete_runs` removed."""

    runs: int = 0
    task_runs: int = 0
    log_lines: int = 0
    artifacts: int = 0
    #: The blobs the deleted artifacts named (now candidates for collection).
    digests: set[str] | None = None


def delete_runs(session: Session, run_ids: Sequence[str], *, now: datetime) -> Deleted:
    """Delete runs with their finished subflows, task runs, states, logs and artifacts;
    mark the blobs their artifacts named as candidates. Children go first, each table by
    an indexed column, so the foreign keys' cascades find nothing left to do."""
    ids = _still_final(session, _with_subflows(session, list(run_ids)))
    deleted = Deleted(digests=set())
    if not ids:
        return deleted
    assert deleted.digests is not None
    for data in session.scalars(
        sa.select(Artifact.data).where(Artifact.flow_run_id.in_(ids), Artifact.type == "notebook")
    ):
        digest = (data or {}).get("digest")
        if isinstance(digest, str) and len(digest) == 64:
            deleted.digests.add(digest)
    task_runs = sa.select(TaskRun.id).where(TaskRun.flow_run_id.in_(ids))
    deleted.log_lines = _delete(session, sa.delete(LogLine).where(LogLine.flow_run_id.in_(ids)))
    deleted.artifacts = _delete(session, sa.delete(Artifact).where(Artifact.flow_run_id.in_(ids)))
    _delete(session, sa.delete(TaskRunState).where(TaskRunState.run_id.in_(task_runs)))
    deleted.task_runs = _delete(session, sa.delete(TaskRun).where(TaskRun.flow_run_id.in_(ids)))
    _delete(session, sa.delete(FlowRunState).where(FlowRunState.run_id.in_(ids)))
    deleted.runs = _delete(session, sa.delete(FlowRun).where(FlowRun.id.in_(ids)))
    mark_candidates(session, deleted.digests, now=now)
    return deleted


def _with_subflows(session: Session, ids: list[str]) -> list[str]:
    """``ids`` and, at any depth, their subflows in a final state (an unfinished one stays,
    its parent link cleared by the foreign key)."""
    every, frontier = list(dict.fromkeys(ids)), list(dict.fromkeys(ids))
    seen = set(every)
    while frontier:
        children = [
            child
            for child in session.scalars(
                sa.select(FlowRun.id).where(
                    FlowRun.parent_flow_run_id.in_(frontier),
                    FlowRun.state_type.in_(FINAL_TYPES),
                )
            )
            if child not in seen
        ]
        seen.update(children)
        every += children
        frontier = children
    return every


def _still_final(session: Session, ids: list[str]) -> list[str]:
    """Those of ``ids`` still in a final state, locked on PostgreSQL until the commit: a
    run moved again meanwhile (a re-run) is not deleted, and one cannot move while its
    rows go."""
    if not ids:
        return []
    query = sa.select(FlowRun.id).where(FlowRun.id.in_(ids), FlowRun.state_type.in_(FINAL_TYPES))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(session.scalars(query.order_by(FlowRun.id)))


def _delete(session: Session, statement: sa.Delete) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ blob candidates


def mark_candidates(session: Session, digests: Iterable[str], *, now: datetime) -> None:
    """Name blobs as candidates; one marked again starts its grace period again."""
    rows = [{"digest": d, "marked_at": now} for d in sorted(set(digests))]
    if not rows:
        return
    insert = dialect_insert(session, BlobCandidate).values(rows)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["digest"], set_={"marked_at": insert.excluded.marked_at}
        )
    )


def due_candidates(session: Session, *, marked_before: datetime, limit: int) -> list[str]:
    """Candidates marked before ``marked_before``, oldest first."""
    query = (
        sa.select(BlobCandidate.digest)
        .where(BlobCandidate.marked_at <= marked_before)
        .order_by(BlobCandidate.marked_at, BlobCandidate.digest)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_candidates(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(BlobCandidate)) or 0)


def forget_candidates(session: Session, digests: Iterable[str], *, marked_before: datetime) -> None:
    """Drop candidates dealt with (unless marked again since ``marked_before``)."""
    wanted = sorted(set(digests))
    if wanted:
        session.execute(
            sa.delete(BlobCandidate).where(
                BlobCandidate.digest.in_(wanted), BlobCandidate.marked_at <= marked_before
            )
        )


def referenced_digests(
    session: Session,
    digests: Iterable[str],
    manifest_files: Callable[[str], Iterable[str]],
) -> set[str]:
    """Those of ``digests`` that a row still names: an artifact's ``data.digest``, a flow
    version's notebook or script (its entrypoint ``path#sha256=…``), its working files'
    manifest or a file in it (``manifest_files(digest)`` lists a manifest's files)."""
    wanted = set(digests)
    if not wanted:
        return set()
    named = Artifact.data["digest"].as_string()
    found = set(session.scalars(sa.select(named).where(named.in_(sorted(wanted)))))
    manifest = FlowVersion.content["resource_spec"]["working_files"]["manifest"].as_string()
    versions = session.execute(
        sa.select(FlowVersion.entrypoint, manifest).where(
            sa.or_(FlowVersion.entrypoint.contains(_NOTEBOOK_MARK), manifest.is_not(None))
        )
    )
    for entrypoint, manifest_digest in versions:
        if entrypoint and _NOTEBOOK_MARK in entrypoint:
            found.add(entrypoint.rsplit(_NOTEBOOK_MARK, 1)[1])
        if manifest_digest:
            found.add(manifest_digest)
            found.update(manifest_files(manifest_digest))
    return found & wanted
