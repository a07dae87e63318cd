"""The flow's retry policy for crashed runs: a new attempt goes back to the run's queue.

A run *crashes* when its process, pod or agent died under it (the agent saw the process
end without a final state, or the reaper heard nothing from the agent). If the flow allows
retries, the crash is followed at once, in the same transaction, by Scheduled
("AwaitingRetry", due after the retry delay) so any agent on the queue claims the next
attempt; ``run_count`` is kept, so attempts add up across processes.

The policy comes from the run (``retries``, ``retry_delay_seconds``) or else from its flow
version's ``run_config`` (``{"retries": 2, "retry_delay_seconds": 10}``), which
``jupyter flows register`` fills from ``@flow(retries=…)``. An attempt is one entry into
Running, or one crash before Running: a flow with ``retries=N`` gets ``N + 1`` attempts in
all, whether they failed in the engine (retried in process) or crashed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.store import runs as store_runs
from jupyter_flows.store.models import FlowRun, FlowRunState, FlowVersion
from jupyter_flows.store.types import utcnow

RETRY_STATE_NAME = "AwaitingRetry"


def retry_policy(session: Session, run: FlowRun) -> tuple[int, float]:
    """(retries, delay in seconds) that apply to ``run``."""
    retries, delay = run.retries or 0, run.retry_delay_seconds or 0.0
    if retries or run.flow_version_id is None:
        return retries, delay
    version = session.get(FlowVersion, run.flow_version_id)
    config = (version.content or {}).get("run_config") if version is not None else None
    if not isinstance(config, dict):
        return 0, 0.0
    try:
        retries = max(0, int(config.get("retries") or 0))
        delay = max(0.0, float(config.get("retry_delay_seconds") or 0.0))
    except (TypeError, ValueError):
        return 0, 0.0
    return retries, delay


def attempts_of(session: Session, run: FlowRun) -> int:
    """Attempts so far: entries into Running, or crashes if more (a crash before Running)."""
    crashes = session.scalar(
        sa.select(sa.func.count()).where(
            FlowRunState.run_id == run.id, FlowRunState.type == StateType.CRASHED
        )
    )
    return max(run.run_count, int(crashes or 0))


def retry_crashed(session: Session, run: FlowRun, now: datetime | None = None) -> State | None:
    """If ``run`` (just Crashed, from a work queue) has retries left, schedule its next
    attempt and return that state; else None (the run stays Crashed)."""
    if run.state_type is not StateType.CRASHED or run.work_queue_id is None:
        return None
    retries, delay = retry_policy(session, run)
    attempts = attempts_of(session, run)
    if attempts > retries:
        return None
    now = now or utcnow()
    message = f"attempt {attempts} of {retries + 1} crashed; retrying"
    if delay:
        message += f" in {delay:g} s"
    state = State(StateType.SCHEDULED, RETRY_STATE_NAME, message, timestamp=now)
    store_runs.propose_state(
        session,
        run,
        state,
        scheduled_time=now + timedelta(seconds=delay),
        details={"retry_of_attempt": attempts},
    )
    return state
