"""Artifacts of runs: what ``ingest`` records (an executed notebook, a table, a link) and reads.

An artifact names a flow run (and maybe one of its task runs). Recording one again with the
same client id is skipped, so a resent ingest batch duplicates nothing.

A ``notebook`` artifact names the executed notebook by its blob digest. The server reads it
from its own blob storage (``JUPYTER_FLOWS_STORAGE_URL``, else the local blob folder: what
the engines in its kernels and agents write to), never from the ``storage_url`` the
artifact carries: that is data a client sent, and the server reaches no place a client
names. The digest is verified on every read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.server import errors
from jupyter_flows.server.service import iso, page
from jupyter_flows.server.service.runs import Rejections
from jupyter_flows.store import artifacts as store_artifacts
from jupyter_flows.store.errors import InvalidInput, NotFound
from jupyter_flows.store.models import Artifact, FlowGroup, FlowRun, TaskRun

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateArtifact
    from jupyter_flows.storage import BlobStore

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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


@dataclass(frozen=True)
class NotebookBlob:
    """Where a notebook artifact's executed notebook is, and whose run it is."""

    artifact_id: str
    digest: str
    storage_url: str | None
    flow_name: str
    run_name: str
    flow_run_id: str


def notebook_blob(session: Session, artifact_id: str) -> NotebookBlob:
    """The blob of a ``notebook`` artifact (400 for another type or one naming no blob)."""
    artifact = store_artifacts.read_artifact(session, artifact_id)
    if artifact.type != "notebook":
        raise errors.InvalidInput(
            f"artifact {artifact_id!r} is a {artifact.type}, not an executed notebook"
        )
    data = artifact.data or {}
    digest = data.get("digest")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise errors.InvalidInput(
            f"notebook artifact {artifact_id!r} names no blob (data.digest: {digest!r})"
        )
    run = session.get(FlowRun, artifact.flow_run_id)
    if run is None:  # the foreign key cascades: only a race with a delete gets here
        raise NotFound("flow run", artifact.flow_run_id)
    group = session.get(FlowGroup, run.flow_group_id)
    storage_url = data.get("storage_url")
    return NotebookBlob(
        artifact_id=artifact.id,
        digest=digest,
        storage_url=storage_url if isinstance(storage_url, str) else None,
        flow_name=group.name if group is not None else "flow",
        run_name=run.name,
        flow_run_id=run.id,
    )


def read_notebook(blob: NotebookBlob, store: BlobStore) -> bytes:
    """The executed notebook's bytes, verified against the digest (blocking: off the loop)."""
    from jupyter_flows import storage

    what = f"the executed notebook of artifact {blob.artifact_id!r} (blob {blob.digest})"
    try:
        data = store.get(blob.digest)
    except storage.BlobNotFound:
        elsewhere = (
            f"; the run wrote it to {blob.storage_url}"
            if blob.storage_url and blob.storage_url != store.url
            else ""
        )
        raise errors.BlobMissing(
            f"{what} is not in the server's storage at {store.url}{elsewhere}"
        ) from None
    except storage.BlobCorrupt as exc:
        raise errors.BlobCorrupt(f"{what} is corrupt: its content hashes to {exc.actual}") from None
    except storage.StorageUnavailable as exc:
        raise errors.StorageUnavailable(f"{what} could not be read: {exc}") from None
    try:
        notebook = json.loads(data)
    except ValueError:
        notebook = None
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise errors.BlobCorrupt(f"{what} is not notebook JSON")
    return data


def open_path(blob: NotebookBlob, folder: str) -> str:
    """Where the executed notebook is written below the Jupyter root: one file per run.

    ``<folder>/<flow>/<run name>-<last 8 of the run id>.ipynb``: stable, so opening the same
    artifact again finds the same file.
    """

    def safe(name: str) -> str:
        return _UNSAFE.sub("-", name).strip(".-") or "_"

    run = f"{safe(blob.run_name)}-{safe(blob.flow_run_id)[-8:]}"
    return f"{folder.strip('/')}/{safe(blob.flow_name)}/{run}.ipynb"
