"""Flow groups and their immutable, content-addressed versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store.errors import NotFound
from jupyter_flows.store.hashing import diff_contents, flow_version_id, normalize_content
from jupyter_flows.store.models import FlowGroup, FlowVersion
from jupyter_flows.store.types import dialect_insert, new_id, utcnow


def get_or_create_flow_group(
    session: Session, project: str, name: str, *, lock: bool = False
) -> FlowGroup:
    """The flow group ``project``/``name``, created if missing (safe when two race).

    ``lock=True`` locks its row (PostgreSQL) for the rest of the transaction.
    """
    query = (
        sa.select(FlowGroup)
        .where(FlowGroup.project == project, FlowGroup.name == name)
        .execution_options(populate_existing=True)
    )
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    group = session.scalars(query).one_or_none()
    if group is not None:  # the usual case: a write only when it is missing
        return group
    now = utcnow()
    session.execute(
        dialect_insert(session, FlowGroup)
        .values(id=new_id(), project=project, name=name, created=now, updated=now)
        .on_conflict_do_nothing(index_elements=["project", "name"])
    )
    return session.scalars(query).one()


def read_flow_group(session: Session, flow_group_id: str) -> FlowGroup:
    group = session.get(FlowGroup, flow_group_id)
    if group is None:
        raise NotFound("flow group", flow_group_id)
    return group


def find_flow_group(session: Session, project: str, name: str) -> FlowGroup | None:
    query = sa.select(FlowGroup).where(FlowGroup.project == project, FlowGroup.name == name)
    return session.scalars(query).one_or_none()


def read_flow_groups(
    session: Session, *, project: str | None = None, limit: int = 100, offset: int = 0
) -> list[FlowGroup]:
    query = sa.select(FlowGroup).order_by(FlowGroup.project, FlowGroup.name)
    if project is not None:
        query = query.where(FlowGroup.project == project)
    return list(session.scalars(query.limit(limit).offset(offset)))


def register_flow_version(
    session: Session,
    project: str,
    name: str,
    content: Mapping[str, Any],
    *,
    entrypoint: str | None = None,
) -> tuple[FlowVersion, bool]:
    """Register ``content`` as a version of flow ``project``/``name``.

    Returns ``(version, created)``. Content equal to an existing version of this flow
    returns that version (``created`` False) and makes it the flow's latest again. A new
    version records its predecessor (the flow's latest) and what changed from it.
    ``entrypoint`` (``path.py:function``) is recorded with a new version; it is not part of
    the content hash, so an existing version keeps the entrypoint it was created with.
    Raises ``hashing.InvalidContent`` for content of the wrong shape.
    """
    normalized = normalize_content(content)
    version_id = flow_version_id(project, name, normalized)
    # The group's row lock serialises registrations of one flow, so numbering cannot clash.
    group = get_or_create_flow_group(session, project, name, lock=True)
    existing = session.get(FlowVersion, version_id)
    if existing is not None:
        if group.latest_version_id != version_id:
            group.latest_version_id = version_id
            session.flush()
        return existing, False

    predecessor = (
        session.get(FlowVersion, group.latest_version_id) if group.latest_version_id else None
    )
    last_number = session.scalar(
        sa.select(sa.func.max(FlowVersion.version_number)).where(
            FlowVersion.flow_group_id == group.id
        )
    )
    version = FlowVersion(
        id=version_id,
        flow_group_id=group.id,
        version_number=(last_number or 0) + 1,
        predecessor_id=predecessor.id if predecessor else None,
        content=normalized,
        changes=diff_contents(predecessor.content, normalized) if predecessor else None,
        entrypoint=entrypoint,
    )
    session.add(version)
    group.latest_version_id = version_id
    session.flush()
    return version, True


def read_flow_version(session: Session, version_id: str) -> FlowVersion:
    version = session.get(FlowVersion, version_id)
    if version is None:
        raise NotFound("flow version", version_id)
    return version


def read_flow_versions(
    session: Session, flow_group_id: str, *, limit: int = 100, offset: int = 0
) -> list[FlowVersion]:
    """A flow's versions, newest first."""
    query = (
        sa.select(FlowVersion)
        .where(FlowVersion.flow_group_id == flow_group_id)
        .order_by(FlowVersion.version_number.desc())
    )
    return list(session.scalars(query.limit(limit).offset(offset)))


def latest_flow_version(session: Session, flow_group_id: str) -> FlowVersion | None:
    group = read_flow_group(session, flow_group_id)
    if group.latest_version_id is None:
        return None
    return session.get(FlowVersion, group.latest_version_id)
