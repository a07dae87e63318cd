"""Artifacts of runs: what ``ingest`` records (an executed notebook, a table, a link) and reads.

An artifact names a flow run (and maybe one of its task runs). Recording one again with the
same client id is skipped, so a resent ingest batch duplicates nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.server.models import CreateArtifact
from jupyter_flows.server.service import iso, page
from jupyter_flows.server.service.runs import Rejections
from jupyter_flows.store import artifacts as store_artifacts
from jupyter_flows.store.errors import InvalidInput, NotFound
from jupyter_flows.store.models import Artifact, FlowRun, TaskRun


def artifact_out(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "flow_run_id": artifact.flow_run_id,
        "task_run_id": artifact.task_run_id,
        "type": artifact.type,
        "key": artifact.key,
        "description": artifact.description,
        "data": artifact.data,
        "created": iso(artifact.created),
    }


def insert_artifacts(
    session: Session, bodies: Sequence[CreateArtifact], rejections: Rejections
) -> int:
    """Record ``bodies``; return how many were new. Bad items are listed in ``rejections``."""
    if not bodies:
        return 0
    ids = {b.id for b in bodies if b.id}
    seen: set[str] = set()
    if ids:
        seen = set(session.scalars(sa.select(Artifact.id).where(Artifact.id.in_(ids))))
    created = 0
    for index, body in enumerate(bodies):
        if body.id is not None and body.id in seen:
            continue
        try:
            run = session.get(FlowRun, body.flow_run_id)
            if run is None:
                raise NotFound("flow run", body.flow_run_id)
            if body.task_run_id is not None:
                task_run = session.get(TaskRun, body.task_run_id)
                if task_run is None or task_run.flow_run_id != body.flow_run_id:
                    raise NotFound("task run", body.task_run_id)
            store_artifacts.create_artifact(
                session,
                id=body.id,
                flow_run_id=body.flow_run_id,
                task_run_id=body.task_run_id,
                type=body.type,
                key=body.key,
                description=body.description,
                data=body.data,
            )
        except NotFound as exc:
            rejections.add(index, "not_found", f"No {exc.kind} {exc.key!r}")
            continue
        except InvalidInput as exc:
            rejections.add(index, "invalid_input", str(exc))
            continue
        if body.id is not None:
            seen.add(body.id)
        created += 1
    return created


def list_artifacts(
    session: Session,
    flow_run_id: str,
    *,
    type: str | None = None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    if session.get(FlowRun, flow_run_id) is None:
        raise NotFound("flow run", flow_run_id)
    where = [Artifact.flow_run_id == flow_run_id]
    if type is not None:
        where.append(Artifact.type == type)
    total = session.scalar(sa.select(sa.func.count()).select_from(Artifact).where(*where))
    items = store_artifacts.read_artifacts(
        session, flow_run_id=flow_run_id, type=type, limit=limit, offset=offset
    )
    return page([artifact_out(a) for a in items], int(total or 0), limit, offset)


def read_artifact(session: Session, artifact_id: str) -> dict[str, Any]:
    return artifact_out(store_artifacts.read_artifact(session, artifact_id))
