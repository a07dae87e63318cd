"""What an *agent* API key may reach: only its own agents, and the runs they hold.

A user key and the server's own token may do everything the REST API offers (the
authorizer, ``server/auth.py``). An agent key is narrower, operation by operation: each
handler declares, per HTTP method, its ``agent_access``:

- ``"any"``: every agent key (the server's version, registering an agent);
- ``"agent"``: the path's agent must be one this key registered (``agents.api_key_id``);
- ``"run"``, ``"task_run"``, ``"artifact"``: the path's flow run (or the flow run of the
  task run or artifact) must be *held* by one of the key's agents: claimed by it (its
  current attempt), or a subflow that such a run started;
- ``"version"``: a flow version one of the key's held runs runs;
- ``"queue"``: a work queue one of the key's agents serves (its preview);
- ``"body"``: what the body names is checked by the verb (a claim's ``agent_id``, the runs
  of an ingest batch, of log lines or of a new task run);
- a method not listed: refused (403 forbidden). Only user keys create runs.

The checks run in a read transaction of their own before the verb (a few indexed reads;
user keys and tokens pay nothing). ``docs/roles.md`` is the table, every operation × role,
and ``tests/server/test_roles.py`` checks every operation of ``schema/openapi.yaml`` against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.server.errors import Forbidden
from jupyter_flows.store.models import Agent, Artifact, FlowRun, TaskRun, WorkQueue

if TYPE_CHECKING:
    from jupyter_flows.server.wire import Ingest

#: How far up a subflow's parents the check looks for a held run.
MAX_SUBFLOW_DEPTH = 32

SCOPES = frozenset({"any", "agent", "run", "task_run", "artifact", "version", "queue", "body"})


def key_agents(session: Session, key_id: str) -> set[str]:
    """Ids of the agents the key registered."""
    query = sa.select(Agent.id).where(Agent.api_key_id == key_id)
    return set(session.scalars(query))


def check_agent(session: Session, key_id: str, agent_id: str) -> None:
    bound = session.scalar(sa.select(Agent.api_key_id).where(Agent.id == agent_id))
    if bound is None or bound != key_id:
        raise Forbidden(f"this agent key did not register agent {agent_id!r}")


def check_runs(session: Session, key_id: str, flow_run_ids: Iterable[str]) -> None:
    """Every run must be held by the key's agents (or descend from one that is)."""
    ids = set(flow_run_ids)
    if not ids:
        return
    agents = key_agents(session, key_id)
    seen: dict[str, tuple[str | None, str | None]] = {}
    frontier = set(ids)
    for _ in range(MAX_SUBFLOW_DEPTH):
        frontier -= set(seen)
        if not frontier:
            break
        query = sa.select(FlowRun.id, FlowRun.agent_id, FlowRun.parent_flow_run_id).where(
            FlowRun.id.in_(sorted(frontier))
        )
        found = {run_id: (agent, parent) for run_id, agent, parent in session.execute(query)}
        for run_id in frontier:
            seen[run_id] = found.get(run_id, (None, None))
        frontier = {parent for agent, parent in found.values() if parent and agent not in agents}
    for run_id in ids:
        if not _held(run_id, seen, agents):
            raise Forbidden(f"flow run {run_id!r} is not held by an agent of this agent key")


def _held(run_id: str, seen: dict[str, tuple[str | None, str | None]], agents: set[str]) -> bool:
    for _ in range(MAX_SUBFLOW_DEPTH):
        agent, parent = seen.get(run_id, (None, None))
        if agent is not None and agent in agents:
            return True
        if parent is None:
            return False
        run_id = parent
    return False


def check_task_runs(session: Session, key_id: str, task_run_ids: Iterable[str]) -> None:
    ids = sorted(set(task_run_ids))
    if not ids:
        return
    query = sa.select(TaskRun.id, TaskRun.flow_run_id).where(TaskRun.id.in_(ids))
    runs = dict(session.execute(query).tuples().all())
    missing = [task_run_id for task_run_id in ids if task_run_id not in runs]
    if missing:
        raise Forbidden(f"task run {missing[0]!r} is not of a run this agent key holds")
    check_runs(session, key_id, runs.values())


def check(session: Session, scope: str, key_id: str, path: dict[str, str]) -> None:
    """The path check of ``scope`` (see the module doc) for an agent key."""
    if scope in ("any", "body"):
        return
    if scope == "agent":
        check_agent(session, key_id, path["agent_id"])
    elif scope == "run":
        check_runs(session, key_id, [path["flow_run_id"]])
    elif scope == "task_run":
        check_task_runs(session, key_id, [path["task_run_id"]])
    elif scope == "artifact":
        artifact = session.get(Artifact, path["artifact_id"])
        if artifact is None:
            raise Forbidden("the artifact is not of a run this agent key holds")
        check_runs(session, key_id, [artifact.flow_run_id])
    elif scope == "version":
        query = sa.select(FlowRun.id).where(
            FlowRun.flow_version_id == path["version_id"],
            FlowRun.agent_id.in_(sorted(key_agents(session, key_id))),
        )
        if session.scalar(query.limit(1)) is None:
            raise Forbidden("no run this agent key holds runs that flow version")
    elif scope == "queue":
        query = (
            sa.select(Agent.id)
            .join(WorkQueue, WorkQueue.id == Agent.work_queue_id)
            .where(Agent.api_key_id == key_id, WorkQueue.name == path["name"])
        )
        if session.scalar(query.limit(1)) is None:
            raise Forbidden(f"no agent of this agent key serves work queue {path['name']!r}")
    else:
        raise Forbidden("agent keys may not do this")


def check_ingest(session: Session, key_id: str, batch: Ingest) -> None:
    """An agent key's batch reports one held run (its ``lease``) and its subflows: every
    record must belong to that tree, and the only runs it creates are subflows of it."""
    if batch.lease is None:
        raise Forbidden("an agent key's ingest batch carries the lease of the run it reports")
    check_runs(session, key_id, [batch.lease.flow_run_id])
    tree = {batch.lease.flow_run_id}
    new_runs = {run.id: run for run in batch.flow_runs if run.id}
    for run in batch.flow_runs:
        if run.id is None or (run.parent_flow_run_id is None and run.id not in tree):
            raise Forbidden("only user keys create flow runs (an agent key: subflows of its run)")
    # Subflows of the batch whose parents are in the tree join it (parents come first).
    changed = True
    while changed:
        changed = False
        for run_id, run in new_runs.items():
            if run_id not in tree and run.parent_flow_run_id in tree:
                tree.add(run_id)
                changed = True
    stored = _subflows_in(session, tree, _referenced_runs(batch) - tree)
    tree |= stored
    task_runs = {t.id: t.flow_run_id for t in batch.task_runs if t.id}
    outside = [t.flow_run_id for t in batch.task_runs if t.flow_run_id not in tree]
    outside += [line.flow_run_id for line in batch.logs if line.flow_run_id not in tree]
    outside += [a.flow_run_id for a in batch.artifacts if a.flow_run_id not in tree]
    outside += [s.run_id for s in batch.states if s.kind == "flow_run" and s.run_id not in tree]
    if outside:
        raise Forbidden(f"flow run {outside[0]!r} is not the leased run or one of its subflows")
    unknown = [s.run_id for s in batch.states if s.kind == "task_run" and s.run_id not in task_runs]
    if unknown:
        query = sa.select(TaskRun.id, TaskRun.flow_run_id).where(TaskRun.id.in_(sorted(unknown)))
        parents = dict(session.execute(query).tuples().all())
        for task_run_id in unknown:
            if parents.get(task_run_id) not in tree:
                raise Forbidden(f"task run {task_run_id!r} is not of the leased run")


def _referenced_runs(batch: Ingest) -> set[str]:
    ids = {t.flow_run_id for t in batch.task_runs}
    ids |= {line.flow_run_id for line in batch.logs}
    ids |= {a.flow_run_id for a in batch.artifacts}
    ids |= {s.run_id for s in batch.states if s.kind == "flow_run"}
    ids |= {r.parent_flow_run_id for r in batch.flow_runs if r.parent_flow_run_id}
    return ids


def _subflows_in(session: Session, tree: set[str], candidates: set[str]) -> set[str]:
    """Those of ``candidates`` (stored runs) whose parents lead into ``tree``."""
    if not candidates:
        return set()
    parents: dict[str, str | None] = {}
    frontier = set(candidates)
    for _ in range(MAX_SUBFLOW_DEPTH):
        frontier -= set(parents) | tree
        if not frontier:
            break
        query = sa.select(FlowRun.id, FlowRun.parent_flow_run_id).where(
            FlowRun.id.in_(sorted(frontier))
        )
        found = dict(session.execute(query).tuples().all())
        for run_id in frontier:
            parents[run_id] = found.get(run_id)
        frontier = {p for p in found.values() if p}
    inside = set()
    for run_id in candidates:
        current: str | None = run_id
        for _ in range(MAX_SUBFLOW_DEPTH):
            if current is None:
                break
            if current in tree:
                inside.add(run_id)
                break
            current = parents.get(current)
    return inside


def scope_of(handler: Any, method: str) -> str | None:
    """The handler's ``agent_access`` for ``method`` (None: agent keys are refused)."""
    access: dict[str, str] = getattr(handler, "agent_access", {}) or {}
    return access.get(method)
