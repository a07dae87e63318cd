"""Flows: registering content-addressed versions, reading flow groups and versions.

The wire content (edges as ``{source, target, names}``, ``parameter_schema``) differs a
little from the store's (edges as pairs, ``parameters``): the names an edge feeds are kept
on the downstream task under ``_edge_names``, so they take part in the version's hash and
come back as they were sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy.orm import Session

from jupyter_flows.server.errors import InvalidInput
from jupyter_flows.server.service import iso, page
from jupyter_flows.store import flows as store_flows
from jupyter_flows.store.hashing import InvalidContent
from jupyter_flows.store.models import Deployment, FlowGroup, FlowRun, FlowVersion

if TYPE_CHECKING:
    from jupyter_flows.server.wire import FlowContent, RegisterFlow

EDGE_NAMES = "_edge_names"


# ------------------------------------------------------------------ wire <-> store content


def to_store_content(content: FlowContent) -> dict[str, Any]:
    try:
        Draft202012Validator.check_schema(content.parameter_schema)
    except SchemaError as exc:
        raise InvalidInput(f"parameter_schema is not a valid JSON Schema: {exc.message}") from None
    tasks: dict[str, dict[str, Any]] = {}
    for task in content.tasks:
        data = task.model_dump(exclude_none=True)
        if EDGE_NAMES in data:
            raise InvalidInput(f"task {task.key!r}: {EDGE_NAMES!r} is a reserved field")
        tasks[task.key] = data
    edges: list[list[str]] = []
    for edge in content.edges:
        for end in (edge.source, edge.target):
            if end not in tasks:
                raise InvalidInput(f"edge {edge.source!r} -> {edge.target!r}: no task {end!r}")
        edges.append([edge.source, edge.target])
        if edge.names:
            names = tasks[edge.target].setdefault(EDGE_NAMES, {})
            names[edge.source] = sorted(set(names.get(edge.source, [])) | set(edge.names))
    stored: dict[str, Any] = {} if content.kind is None else {"kind": content.kind.value}
    spec_hash = content.resource_spec_hash
    if content.resource_spec is not None:
        from jupyter_flows.spec.resource_spec import ResourceSpec, ResourceSpecError

        try:
            spec = ResourceSpec.validate(content.resource_spec)
        except ResourceSpecError as exc:
            raise InvalidInput(str(exc)) from None
        if spec_hash is not None and spec_hash != spec.hash():
            raise InvalidInput(
                f"resource_spec_hash {spec_hash!r} is not the hash of resource_spec "
                f"({spec.hash()!r}): leave it out and the server computes it"
            )
        spec_hash = spec.hash()
        stored["resource_spec"] = dict(spec.document)
    return {
        **stored,
        "tasks": list(tasks.values()),
        "edges": edges,
        "parameters": content.parameter_schema,
        "task_runner": content.task_runner,
        "run_config": content.run_config,
        "resource_spec_hash": spec_hash,
    }


def to_wire_content(content: dict[str, Any]) -> dict[str, Any]:
    tasks, names_of = [], {}
    for task in content.get("tasks", []):
        task = dict(task)
        names_of[task["key"]] = task.pop(EDGE_NAMES, {})
        tasks.append(task)
    edges = [
        {"source": s, "target": t, "names": list(names_of.get(t, {}).get(s, []))}
        for s, t in content.get("edges", [])
    ]
    extra: dict[str, Any] = {} if content.get("kind") is None else {"kind": content["kind"]}
    if content.get("resource_spec") is not None:
        extra["resource_spec"] = content["resource_spec"]
    return {
        **extra,
        "tasks": tasks,
        "edges": edges,
        "parameter_schema": content.get("parameters") or {},
        "task_runner": content.get("task_runner"),
        "run_config": content.get("run_config") or {},
        "resource_spec_hash": content.get("resource_spec_hash"),
    }


# ------------------------------------------------------------------ answers


def flow_group_out(group: FlowGroup, latest_number: int | None) -> dict[str, Any]:
    return {
        "id": group.id,
        "project": group.project,
        "name": group.name,
        "description": group.description,
        "latest_version_id": group.latest_version_id,
        "latest_version_number": latest_number,
        "created": iso(group.created),
        "updated": iso(group.updated),
    }


def version_out(version: FlowVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "flow_id": version.flow_group_id,
        "version_number": version.version_number,
        "content": to_wire_content(version.content),
        "changes": version.changes,
        "entrypoint": version.entrypoint,
        "created": iso(version.created),
    }


# ------------------------------------------------------------------ operations


def register_flow(session: Session, body: RegisterFlow) -> tuple[dict[str, Any], bool]:
    """Register ``body``'s content; return (the version, whether this call created it)."""
    from jupyter_flows.spec.flow_spec import FlowSpec, FlowSpecError

    try:  # what the agent will read of it: a flow of a known kind, on an engine it names
        FlowSpec.from_content(body.content.model_dump(), entrypoint=body.entrypoint)
    except FlowSpecError as exc:
        raise InvalidInput(str(exc)) from None
    content = to_store_content(body.content)
    try:
        version, created = store_flows.register_flow_version(
            session, body.project, body.name, content, entrypoint=body.entrypoint
        )
    except InvalidContent as exc:
        raise InvalidInput(str(exc)) from None
    group = store_flows.read_flow_group(session, version.flow_group_id)
    if body.description is not None and group.description != body.description:
        group.description = body.description
    session.flush()
    return {**version_out(version), "new": created}, created


def read_flow(session: Session, flow_id: str) -> dict[str, Any]:
    group = store_flows.read_flow_group(session, flow_id)
    latest = session.get(FlowVersion, group.latest_version_id) if group.latest_version_id else None
    return flow_group_out(group, latest.version_number if latest else None)


def list_flows(
    session: Session,
    *,
    project: str | None = None,
    name: str | None = None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    where = []
    if project is not None:
        where.append(FlowGroup.project == project)
    if name is not None:
        where.append(FlowGroup.name == name)
    total = session.scalar(sa.select(sa.func.count()).select_from(FlowGroup).where(*where))
    query = (
        sa.select(FlowGroup, FlowVersion.version_number)
        .outerjoin(FlowVersion, FlowVersion.id == FlowGroup.latest_version_id)
        .where(*where)
        .order_by(FlowGroup.project, FlowGroup.name, FlowGroup.id)
        .limit(limit)
        .offset(offset)
    )
    items = [flow_group_out(g, n) for g, n in session.execute(query).all()]
    _add_summaries(session, items)
    return page(items, int(total or 0), limit, offset)


def _add_summaries(session: Session, items: list[dict[str, Any]]) -> None:
    """Each listed flow's last run, next scheduled run and deployment tags (what a list of
    flows shows beside each name), in three queries for the whole page."""
    from jupyter_flows.engine.states import StateType
    from jupyter_flows.server.service.runs import flow_runs_out

    ids = [item["id"] for item in items]
    if not ids:
        return
    when = sa.func.coalesce(FlowRun.start_time, FlowRun.expected_start_time, FlowRun.created)
    ranked = (
        sa.select(
            FlowRun.id,
            sa.func.row_number()
            .over(partition_by=FlowRun.flow_group_id, order_by=(when.desc(), FlowRun.id.desc()))
            .label("rank"),
        )
        .where(
            FlowRun.flow_group_id.in_(ids),
            FlowRun.state_type.is_not(None),
            FlowRun.state_type != StateType.SCHEDULED,
        )
        .subquery()
    )
    last_ids = sa.select(ranked.c.id).where(ranked.c.rank == 1)
    last_runs = session.scalars(sa.select(FlowRun).where(FlowRun.id.in_(last_ids))).all()
    last = {run["flow_id"]: run for run in flow_runs_out(session, last_runs)}
    next_due = dict(
        session.execute(
            sa.select(FlowRun.flow_group_id, sa.func.min(FlowRun.expected_start_time))
            .where(FlowRun.flow_group_id.in_(ids), FlowRun.state_type == StateType.SCHEDULED)
            .group_by(FlowRun.flow_group_id)
        )
        .tuples()
        .all()
    )
    tags: dict[str, set[str]] = {}
    for group_id, deployment_tags in session.execute(
        sa.select(Deployment.flow_group_id, Deployment.tags).where(
            Deployment.flow_group_id.in_(ids)
        )
    ).tuples():
        tags.setdefault(group_id, set()).update(deployment_tags or [])
    for item in items:
        item["last_run"] = last.get(item["id"])
        item["next_run_at"] = iso(next_due.get(item["id"]))
        item["tags"] = sorted(tags.get(item["id"], ()))


def list_versions(session: Session, flow_id: str, *, limit: int, offset: int) -> dict[str, Any]:
    store_flows.read_flow_group(session, flow_id)
    total = session.scalar(
        sa.select(sa.func.count())
        .select_from(FlowVersion)
        .where(FlowVersion.flow_group_id == flow_id)
    )
    versions = store_flows.read_flow_versions(session, flow_id, limit=limit, offset=offset)
    return page([version_out(v) for v in versions], int(total or 0), limit, offset)


def read_version(session: Session, version_id: str) -> dict[str, Any]:
    return version_out(store_flows.read_flow_version(session, version_id))


def read_resource_spec(session: Session, version_id: str) -> dict[str, Any]:
    """The version's ResourceSpec (null for a version registered without one)."""
    version = store_flows.read_flow_version(session, version_id)
    content = version.content or {}
    return {
        "flow_version_id": version.id,
        "resource_spec_hash": content.get("resource_spec_hash"),
        "resource_spec": content.get("resource_spec"),
    }


def diff_resource_specs(session: Session, version_id: str, from_id: str) -> dict[str, Any]:
    """What changed in the environment from version ``from_id`` to ``version_id``, in
    words ("pandas 2.2.3 → 2.3.1", "added polars 1.20", "PYTHONHASHSEED removed")."""
    from jupyter_flows.spec.resource_spec import describe_changes

    new = store_flows.read_flow_version(session, version_id).content or {}
    old = store_flows.read_flow_version(session, from_id).content or {}
    before, after = old.get("resource_spec"), new.get("resource_spec")
    if before is None or after is None:
        missing = [i for i, spec in ((from_id, before), (version_id, after)) if spec is None]
        changes = [f"version {', '.join(missing)} has no resource spec"]
    else:
        changes = describe_changes(before, after)
    return {
        "from": from_id,
        "to": version_id,
        "changed": old.get("resource_spec_hash") != new.get("resource_spec_hash"),
        "changes": changes,
    }


def check_parameters(
    schema: dict[str, Any], parameters: dict[str, Any], *, partial: bool = False
) -> None:
    """Raise InvalidParameters naming the first parameter that does not fit ``schema``.

    ``partial``: only the parameters given are checked (a deployment's defaults may leave
    required ones to each run).
    """
    from jupyter_flows.server.errors import InvalidParameters

    if not schema:
        return
    if partial:
        schema = {k: v for k, v in schema.items() if k != "required"}
    errors = sorted(
        Draft202012Validator(schema).iter_errors(parameters), key=lambda e: list(e.path)
    )
    if not errors:
        return
    messages = []
    for error in errors[:5]:
        if error.path:
            messages.append(f"parameter {error.path[0]!r}: {error.message}")
        elif error.validator == "required":
            missing = [n for n in error.validator_value if n not in parameters]
            messages.append(f"parameter {missing[0]!r} is required" if missing else error.message)
        elif error.validator == "additionalProperties":
            known = sorted((schema.get("properties") or {}).keys())
            extra = sorted(set(parameters) - set(known))
            messages.append(_unknown_parameter(extra[0], known) if extra else error.message)
        else:
            messages.append(f"parameters: {error.message}")
    raise InvalidParameters("; ".join(messages))


def _unknown_parameter(name: str, known: list[str]) -> str:
    """``parameter 'dayz' is not a parameter of this flow (did you mean 'days'?); …``"""
    import difflib

    if not known:
        return f"parameter {name!r} is not a parameter of this flow: it takes none"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"parameter {name!r} is not a parameter of this flow{hint}; its parameters are: " + (
        ", ".join(known)
    )
