"""Attempts and their leases: who may speak for a claimed flow run, and until when.

Each claim of a run starts a new *attempt*: ``attempt`` goes up by one and a fresh random
``lease_token`` is drawn (``queues.claim_next_run``). The agent that claimed it holds the
lease and renews it with every heartbeat that names it (``renew``); the lease runs out at
``lease_expires_at`` unless renewed. Every state change, log batch and heartbeat of the
attempt carries ``(attempt, token)`` and :func:`check` refuses those of any other attempt
with :class:`StaleAttempt`: a paused agent, a partitioned run process or a late retry can
never write over the attempt that replaced it.

A lease ends (its token is cleared) when the run goes back to its queue (Scheduled: a
retry or a hand-back), crashes or is cancelled: from then on nobody holds it, and whatever
the old attempt sends is refused. Ending by its own means (Completed, Failed, TimedOut)
keeps the lease, so the attempt's last log lines still land.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import StateType
from jupyter_flows.store.errors import Conflict
from jupyter_flows.store.models import FlowRun

#: How long a lease lasts without renewal unless the server says otherwise (its reaper
#: threshold).
DEFAULT_LEASE_SECONDS = 60.0
#: A held run is in one of these (Retrying: between in-process attempts).
HELD_TYPES = (
    StateType.PENDING,
    StateType.RUNNING,
    StateType.CANCELLING,
    StateType.RETRYING,
)
#: Entering one of these ends the attempt's lease: the run went back to its queue, or the
#: server (or the agent, its process gone) ended it.
REVOKING_TYPES = frozenset({StateType.SCHEDULED, StateType.CRASHED, StateType.CANCELLED})
#: The columns a revocation clears.
REVOKED: dict[str, Any] = {"lease_token": None, "lease_expires_at": None}


@dataclass(frozen=True, slots=True)
class Lease:
    """What an attempt presents: the run, its attempt number and the lease's token."""

    flow_run_id: str
    attempt: int
    token: str


class StaleAttempt(Conflict):
    """A request of an attempt that no longer holds its run's lease."""

    def __init__(self, run: FlowRun, lease: Lease) -> None:
        self.run_id = run.id
        self.attempt = lease.attempt
        if run.lease_token is None:
            why = "its lease ended (the run was crashed, cancelled or sent back to its queue)"
        elif run.attempt != lease.attempt:
            why = f"the run is at attempt {run.attempt} now"
        else:
            why = "the lease token does not match"
        super().__init__(
            f"attempt {lease.attempt} of flow run {run.id} is stale: {why}; "
            "it must stop without reporting"
        )


def new_token() -> str:
    return secrets.token_hex(16)


def grant(attempt: int, now: datetime, seconds: float) -> dict[str, Any]:
    """The columns a claim sets: the next attempt, a fresh token, its expiry."""
    return {
        "attempt": attempt + 1,
        "lease_token": new_token(),
        "lease_expires_at": now + timedelta(seconds=seconds),
    }


def holds(run: FlowRun, lease: Lease) -> bool:
    """Whether ``lease`` is the run's current one (as ``run`` was loaded)."""
    return (
        run.lease_token is not None
        and run.attempt == lease.attempt
        and secrets.compare_digest(run.lease_token, lease.token)
    )


def check(run: FlowRun, lease: Lease) -> None:
    """Raise :class:`StaleAttempt` unless ``lease`` is the run's current one."""
    if not holds(run, lease):
        raise StaleAttempt(run, lease)


def renew(
    session: Session, agent_id: str, run_ids: Iterable[str], now: datetime, seconds: float
) -> int:
    """Extend the leases ``agent_id`` holds on ``run_ids`` (still held, not revoked) to
    ``now + seconds``; returns how many."""
    ids = sorted(set(run_ids))
    if not ids:
        return 0
    result = session.execute(
        sa.update(FlowRun)
        .where(
            FlowRun.id.in_(ids),
            FlowRun.agent_id == agent_id,
            FlowRun.lease_token.is_not(None),
            FlowRun.state_type.in_(HELD_TYPES),
        )
        .values(lease_expires_at=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def read_expired(session: Session, now: datetime, *, limit: int = 500) -> list[FlowRun]:
    """Held runs whose lease ran out before ``now`` (the reaper's input), oldest first."""
    query = (
        sa.select(FlowRun)
        .where(
            FlowRun.lease_expires_at < now,
            FlowRun.lease_token.is_not(None),
            FlowRun.state_type.in_(HELD_TYPES),
        )
        .order_by(FlowRun.lease_expires_at, FlowRun.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))
