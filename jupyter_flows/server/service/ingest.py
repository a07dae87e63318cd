"""``POST ingest``: what an engine's reporter sends, applied in one transaction.

Order: flow runs, task runs, states, logs, artifacts (a batch may create a run, move it, log
from it and record what it made). Resending a batch duplicates nothing: runs, log lines and
artifacts are skipped by id, and a state equal to one in the run's history (same type and
timestamp) is skipped. An item that cannot be applied (an illegal transition, an unknown run)
is refused alone and listed in ``rejected``; the rest of the batch goes in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from jupyter_flows.engine.states import IllegalTransition, State
from jupyter_flows.server.errors import FlowsError
from jupyter_flows.server.models import Ingest
from jupyter_flows.server.service import artifacts, logs, runs
from jupyter_flows.store.errors import StateConflict
from jupyter_flows.store.types import utcnow


def ingest(session: Session, batch: Ingest) -> dict[str, Any]:
    rejected: list[dict[str, Any]] = []
    flow_runs = runs.Rejections("flow_runs", rejected)
    task_runs = runs.Rejections("task_runs", rejected)
    created_flow_runs = runs.create_flow_runs(session, batch.flow_runs, flow_runs)
    created_task_runs = runs.create_task_runs(session, batch.task_runs, task_runs)
    applied = _apply_states(session, batch, runs.Rejections("states", rejected))
    logged = logs.insert_logs(session, batch.logs, runs.Rejections("logs", rejected))
    made = artifacts.insert_artifacts(
        session, batch.artifacts, runs.Rejections("artifacts", rejected)
    )
    return {
        "flow_runs": len(created_flow_runs),
        "task_runs": len(created_task_runs),
        "states": applied,
        "logs": logged,
        "artifacts": made,
        "rejected": rejected,
    }


def _apply_states(session: Session, batch: Ingest, rejections: runs.Rejections) -> int:
    if not batch.states:
        return 0
    now = utcnow()
    since = min((s.timestamp for s in batch.states if s.timestamp), default=None)
    seen = {
        kind: runs.seen_states(
            session, kind, {s.run_id for s in batch.states if s.kind == kind}, since
        )
        for kind in ("flow_run", "task_run")
    }
    loaded: dict[tuple[str, str], Any] = {}
    applied = 0
    for index, item in enumerate(batch.states):
        timestamp = item.timestamp or now
        if (item.run_id, item.type, timestamp) in seen[item.kind]:
            continue  # already applied: a resent batch
        try:
            key = (item.kind, item.run_id)
            if key not in loaded:
                loaded[key] = runs.load_for_update(session, item.kind, item.run_id)
            state = State(item.type, item.name, item.message, timestamp=timestamp)
            details = {"client_id": item.id} if item.id else None
            runs.apply_state(session, item.kind, loaded[key], state, details=details)
        except (IllegalTransition, StateConflict, LookupError, FlowsError) as exc:
            rejections.add(index, runs.error_code(exc), str(exc))
            continue
        seen[item.kind].add((item.run_id, item.type, timestamp))
        applied += 1
    return applied
