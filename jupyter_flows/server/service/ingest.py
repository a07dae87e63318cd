"""``POST ingest``: what an engine's reporter sends, applied in one transaction.

A batch that carries a ``lease`` comes from an attempt of a claimed run; if that attempt
no longer holds the run (``store.leases``) the whole batch is refused (409
stale_attempt) and nothing of it is written.

Order: flow runs, task runs, states, logs, artifacts (a batch may create a run, move it, log
from it and record what it made). Resending a batch duplicates nothing: runs, log lines and
artifacts are skipped by id, and a state equal to one in the run's history (same type and
timestamp) is skipped. An item that cannot be applied (an illegal transition, an unknown run)
is refused alone and listed in ``rejected``; the rest of the batch goes in.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from jupyter_flows.engine.states import State
from jupyter_flows.server.errors import NotFound
from jupyter_flows.server.service import artifacts, logs, run_states, runs
from jupyter_flows.store.types import utcnow

if TYPE_CHECKING:
    from jupyter_flows.credentials import Keyring
    from jupyter_flows.server.wire import Ingest


def ingest(session: Session, batch: Ingest, keyring: Keyring | None = None) -> dict[str, Any]:
    if batch.lease is not None:  # a stale attempt's batch is refused whole, before anything
        run_states.check_lease(session, batch.lease)
        if keyring is not None:
            batch = redacted(session, keyring, batch)
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


def redacted(session: Session, keyring: Keyring, batch: Ingest) -> Ingest:
    """The batch with its run's credential values masked: the run process redacts what it
    sends, and this guard covers a process that did not (its values are known here)."""
    from jupyter_flows.server.service.credentials import references_of, run_redactor

    assert batch.lease is not None
    if not references_of(session, batch.lease.flow_run_id):
        return batch
    redactor = run_redactor(session, keyring, batch.lease.flow_run_id)
    if not redactor:
        return batch

    def scrub(items: list[Any], *fields: str) -> list[Any]:
        return [
            item.model_copy(update={f: redactor.scrub(getattr(item, f)) for f in fields})
            for item in items
        ]

    return batch.model_copy(
        update={
            "flow_runs": scrub(batch.flow_runs, "name", "parameters"),
            "task_runs": scrub(batch.task_runs, "name"),
            "states": scrub(batch.states, "name", "message"),
            "logs": scrub(batch.logs, "message"),
            "artifacts": scrub(batch.artifacts, "key", "description", "data"),
        }
    )


def _apply_states(session: Session, batch: Ingest, rejections: runs.Rejections) -> int:
    """Apply the batch's states: its runs loaded (and locked) in one query per kind, then
    one ``run_states.apply_states``, which writes each run once whatever its number of states."""
    if not batch.states:
        return 0
    now = utcnow()
    since = min((s.timestamp for s in batch.states if s.timestamp), default=None)
    ids: dict[str, set[str]] = {"flow_run": set(), "task_run": set()}
    for item in batch.states:
        ids[item.kind].add(item.run_id)
    seen = {kind: run_states.seen_states(session, kind, ids[kind], since) for kind in ids}
    loaded = {kind: run_states.load_runs_for_update(session, kind, ids[kind]) for kind in ids}
    keys = [(item.kind, (item.run_id, item.type, item.timestamp or now)) for item in batch.states]
    # A state twice in one batch goes in once: the runs of such states take their states one
    # at a time, since whether the second is skipped depends on whether the first went in.
    one_by_one = {(kind, key[0]) for (kind, key), n in Counter(keys).items() if n > 1}

    refused: list[tuple[int, Exception]] = []
    together: list[tuple[int, run_states.Change]] = []
    alone: list[tuple[int, run_states.Change]] = []
    for index, (item, (kind, key)) in enumerate(zip(batch.states, keys, strict=True)):
        if key in seen[kind]:
            continue  # already applied: a resent batch
        run = loaded[kind].get(item.run_id)
        if run is None:
            refused.append((index, NotFound(f"No {kind.replace('_', ' ')} {item.run_id!r}")))
            continue
        state = State(item.type, item.name, item.message, timestamp=key[2])
        change = run_states.Change(kind, run, state, {"client_id": item.id} if item.id else None)
        (alone if (kind, item.run_id) in one_by_one else together).append((index, change))

    applied = 0
    outcomes = run_states.apply_states(session, [change for _, change in together])
    for (index, _), outcome in zip(together, outcomes, strict=True):
        if isinstance(outcome, Exception):
            refused.append((index, outcome))
        else:
            applied += 1
    for index, change in alone:
        kind, key = keys[index]
        if key in seen[kind]:
            continue
        (outcome,) = run_states.apply_states(session, [change])
        if isinstance(outcome, Exception):
            refused.append((index, outcome))
        else:
            seen[kind].add(key)
            applied += 1
    for index, exc in sorted(refused, key=lambda r: r[0]):
        rejections.add(index, runs.error_code(exc), str(exc))
    return applied
