"""Artifacts of runs: an output notebook, a table, a link."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store.errors import InvalidInput, NotFound
from jupyter_flows.store.models import ARTIFACT_TYPES, Artifact

#: The key each type's data must carry.
_REQUIRED = {"notebook": "uri", "table": "rows", "link": "url"}


def create_artifact(
    session: Session,
    *,
    flow_run_id: str,
    type: str,
    data: Mapping[str, Any],
    key: str | None = None,
    description: str | None = None,
    task_run_id: str | None = None,
    id: str | None = None,
) -> Artifact:
    """Record an artifact. ``data``: notebook ``{"uri"}``, table ``{"rows", "columns"?}``,
    link ``{"url"}``; other keys are kept as they are."""
    if type not in ARTIFACT_TYPES:
        raise InvalidInput(f"artifact type must be one of {', '.join(ARTIFACT_TYPES)}")
    if _REQUIRED[type] not in data:
        raise InvalidInput(f"a {type} artifact needs {_REQUIRED[type]!r} in its data")
    if type == "table" and not isinstance(data["rows"], list):
        raise InvalidInput("a table artifact's rows must be a list")
    artifact = Artifact(
        flow_run_id=flow_run_id,
        task_run_id=task_run_id,
        type=type,
        key=key,
        description=description,
        data=dict(data),
    )
    if id is not None:
        artifact.id = id
    session.add(artifact)
    session.flush()
    return artifact


def read_artifact(session: Session, artifact_id: str) -> Artifact:
    artifact = session.get(Artifact, artifact_id)
    if artifact is None:
        raise NotFound("artifact", artifact_id)
    return artifact


def read_artifacts(
    session: Session,
    *,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    type: str | None = None,
    key: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Artifact]:
    """Artifacts, oldest first, filtered by run, task run, type and key."""
    query = sa.select(Artifact)
    for column, wanted in (
        (Artifact.flow_run_id, flow_run_id),
        (Artifact.task_run_id, task_run_id),
        (Artifact.type, type),
        (Artifact.key, key),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    query = query.order_by(Artifact.created, Artifact.id).limit(limit).offset(offset)
    return list(session.scalars(query))
