"""A flow run's graph in one answer: the run, its tasks as nodes with their task runs, the
edges between them (with the names that flow along them, for notebook flows), the agent
that ran it, and the runs it reruns or was rerun by. The run view draws it and keeps it
live from the event stream.

Nodes come from the flow version's content (a notebook flow's cells, known before any task
runs) and from the task runs themselves (a module flow's tasks, known as they are called).
Edges come from the content, or else from the task runs' inputs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.server.service.flows import to_wire_content
from jupyter_flows.server.service.runs import RERUN_TAG, one_flow_run_out, task_run_out
from jupyter_flows.store import run_queries
from jupyter_flows.store.models import Agent, FlowRun, FlowVersion, TaskRun

#: Task runs given at most per graph (the store's page limit); the rest are counted
#: (``task_runs_total``).
MAX_TASK_RUNS = 1000


def source_path(entrypoint: str | None) -> str | None:
    """The notebook or script of ``path#sha256=…`` or ``path.py:attr``."""
    if not entrypoint:
        return None
    if "#" in entrypoint:
        return entrypoint.split("#", 1)[0] or None
    return entrypoint.rpartition(":")[0] or None


def _node(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": task["key"],
        "name": task.get("name") or task["key"],
        "kind": task.get("kind") or "code",
        "cell_ids": list(task.get("cell_ids") or []),
        "task_runs": [],
    }


def _edges_from_inputs(task_runs: list[TaskRun]) -> list[dict[str, Any]]:
    """Edges between task keys from the task runs' inputs (upstream task run ids)."""
    key_of = {run.id: run.task_key for run in task_runs}
    names: dict[tuple[str, str], set[str]] = {}
    for run in task_runs:
        for name, upstream_ids in (run.parameters or {}).items():
            for upstream in upstream_ids if isinstance(upstream_ids, list) else []:
                source = key_of.get(upstream)
                if source and source != run.task_key:
                    names.setdefault((source, run.task_key), set()).add(name)
    return [{"source": s, "target": t, "names": sorted(n)} for (s, t), n in sorted(names.items())]


def _linked_runs(session: Session, run: FlowRun) -> dict[str, Any]:
    earlier = next((t[len(RERUN_TAG) :] for t in run.tags if t.startswith(RERUN_TAG)), None)
    later = run_queries.read_flow_runs(
        session, run_queries.FlowRunFilter(tags=[f"{RERUN_TAG}{run.id}"]), limit=50, offset=0
    )
    return {"rerun_of": earlier, "reruns": [r.id for r in later]}


def read_run_graph(session: Session, flow_run_id: str) -> dict[str, Any]:
    run = run_queries.read_flow_run(session, flow_run_id)
    version = session.get(FlowVersion, run.flow_version_id) if run.flow_version_id else None
    content = to_wire_content(version.content) if version is not None else {}
    nodes = {task["key"]: _node(task) for task in content.get("tasks") or []}
    task_runs = run_queries.read_task_runs(session, flow_run_id, limit=MAX_TASK_RUNS)
    for task_run in task_runs:
        node = nodes.get(task_run.task_key)
        if node is None:  # a module flow's task, known once called
            node = nodes[task_run.task_key] = _node({"key": task_run.task_key})
            node["name"] = task_run.name.rsplit("-", 1)[0] if task_run.name else node["key"]
            node["kind"] = "flow-task"
        node["task_runs"].append({**task_run_out(task_run), "dynamic_key": task_run.dynamic_key})
    edges = [
        {"source": e["source"], "target": e["target"], "names": list(e.get("names") or [])}
        for e in content.get("edges") or []
    ] or _edges_from_inputs(task_runs)
    total = session.scalar(
        sa.select(sa.func.count()).select_from(TaskRun).where(TaskRun.flow_run_id == flow_run_id)
    )
    runner = content.get("task_runner")
    agent = session.get(Agent, run.agent_id) if run.agent_id else None
    return {
        "flow_run": one_flow_run_out(session, run),
        "flow_version": None
        if version is None
        else {
            "id": version.id,
            "version_number": version.version_number,
            "entrypoint": version.entrypoint,
            "source_path": source_path(version.entrypoint),
            "engine": runner.get("engine") if isinstance(runner, dict) else None,
        },
        "agent": None if agent is None else {"id": agent.id, "name": agent.name},
        "nodes": list(nodes.values()),
        "edges": edges,
        "task_runs_total": int(total or 0),
        **_linked_runs(session, run),
    }
