"""Small builders for store tests: a flow, a run in a given state, a queue."""

from __future__ import annotations

import itertools
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from jupyter_flows.engine.states import TRANSITIONS, State, StateType
from jupyter_flows.store import flows, runs
from jupyter_flows.store.logs import LogRow
from jupyter_flows.store.models import FlowGroup, FlowRun, TaskRun
from jupyter_flows.store.types import utcnow

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=utcnow().tzinfo)


def content(**tasks: str) -> dict[str, Any]:
    """Flow version content with one task per keyword (key=code hash), chained in order."""
    keys = list(tasks)
    return {
        "tasks": [{"key": k, "code_hash": h} for k, h in tasks.items()],
        "edges": [[a, b] for a, b in itertools.pairwise(keys)],
        "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "task_runner": "sequential",
        "run_config": {"kind": "local"},
        "resource_spec_hash": "spec-1",
    }


def make_group(session: Session, name: str = "etl", project: str = "default") -> FlowGroup:
    return flows.get_or_create_flow_group(session, project, name)


def make_run(session: Session, group: FlowGroup | None = None, **kwargs: Any) -> FlowRun:
    group = group or make_group(session)
    return runs.create_flow_run(session, flow_group_id=group.id, **kwargs)


def path_to(target: StateType) -> list[StateType]:
    """A shortest legal path of states from Scheduled (included) to ``target``."""
    start = StateType.SCHEDULED
    queue: deque[list[StateType]] = deque([[start]])
    while queue:
        path = queue.popleft()
        if path[-1] is target:
            return path
        for nxt in sorted(TRANSITIONS[path[-1]], key=lambda t: t.value):
            if nxt not in path:
                queue.append([*path, nxt])
    raise AssertionError(f"no path to {target}")


def drive(session: Session, run: FlowRun | TaskRun, target: StateType) -> None:
    """Move a Scheduled run along a legal path to ``target``, one second per step."""
    ts = run.state_timestamp or T0
    for step in path_to(target)[1:]:
        ts = ts + timedelta(seconds=1)
        runs.propose_state(session, run, State(step, timestamp=ts))


def log_row(
    flow_run_id: str,
    message: str,
    timestamp: datetime = T0,
    *,
    task_run_id: str | None = None,
    level: int = 20,
    name: str = "",
    client_id: str | None = None,
) -> LogRow:
    """One line for ``store.logs.insert_logs``, its fields by name."""
    return (client_id, flow_run_id, task_run_id, level, name, message, timestamp)
