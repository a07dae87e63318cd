"""Notifications' queries: the outbox, the claim of its events and of deliveries, attempts.

The outbox is written in the transaction of the state change that caused it
(:func:`enqueue`), so an event exists exactly when its change was committed. Everything
after that is the delivery service's, and safe with any number of servers on one database:

- an event is expanded once: :func:`claim_events` locks the rows it takes (``FOR UPDATE
  SKIP LOCKED`` on PostgreSQL: another server takes the next ones; SQLite has one writer),
  and the expansion marks them processed in the same transaction;
- a delivery is sent by one server at a time: :func:`claim_deliveries` moves it to
  ``sending`` with a guarded UPDATE (its status and claim as read), committed before the
  send; a sender that dies leaves a claim that expires, and the delivery is sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import StateType
from jupyter_flows.store.models import (
    Automation,
    DeliveryAttempt,
    FlowRun,
    NotificationDelivery,
    NotificationDestination,
    NotificationPolicy,
    OutboxEvent,
)

#: The event a flow run's new state is, by its type; a Scheduled state named "Late" is "Late".
STATE_EVENTS: dict[StateType, str] = {
    StateType.FAILED: "Failed",
    StateType.CRASHED: "Crashed",
    StateType.TIMED_OUT: "TimedOut",
    StateType.COMPLETED: "Completed",
}


def event_of(state_type: StateType | str, state_name: str | None) -> str | None:
    """The outbox event a flow run entering this state is, or None (most states)."""
    state_type = StateType(state_type)
    if state_type is StateType.SCHEDULED:
        return "Late" if state_name == "Late" else None
    return STATE_EVENTS.get(state_type)


def enqueue(
    session: Session,
    run: FlowRun,
    event: str,
    *,
    state_type: StateType | None,
    state_name: str | None,
    message: str | None,
    occurred_at: datetime,
    dedup_key: str | None = None,
) -> None:
    """One outbox event of ``run``, in the caller's transaction (a Core INSERT: this is on
    every final state's path, and the ORM's unit of work would cost it more)."""
    session.execute(
        sa.insert(OutboxEvent.__table__),  # type: ignore[arg-type]
        {
            "flow_run_id": run.id,
            "event": event,
            "state_type": state_type,
            "state_name": state_name,
            "message": message,
            "occurred_at": occurred_at,
            "dedup_key": dedup_key,
        },
    )


def pending_events(session: Session) -> bool:
    """Whether any event waits (a cheap read: the usual tick has nothing to do)."""
    query = sa.select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None)).limit(1)
    return session.scalar(query) is not None


def any_rules(session: Session) -> bool:
    """Whether any enabled notification policy or automation exists (without one, no
    event has anything to do)."""
    for model in (NotificationPolicy, Automation):
        query = sa.select(model.id).where(model.enabled.is_(True)).limit(1)
        if session.scalar(query) is not None:
            return True
    return False


def skip_events(session: Session, now: datetime) -> int:
    """Mark every waiting event processed, in one statement; how many it marked."""
    done = session.execute(
        sa.update(OutboxEvent).where(OutboxEvent.processed_at.is_(None)).values(processed_at=now)
    )
    return int(cast(Any, done).rowcount or 0)


def claim_events(session: Session, limit: int) -> list[OutboxEvent]:
    """The oldest unprocessed events, locked for this transaction (others skip them)."""
    query = (
        sa.select(OutboxEvent)
        .where(OutboxEvent.processed_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def policies_for(session: Session, deployment_id: str | None, flow_group_id: str) -> list[Any]:
    """The enabled policies of a deployment, and of its flow (the default)."""
    where = NotificationPolicy.flow_group_id == flow_group_id
    if deployment_id is not None:
        where = sa.or_(where, NotificationPolicy.deployment_id == deployment_id)
    query = (
        sa.select(NotificationPolicy)
        .where(NotificationPolicy.enabled.is_(True), where)
        .order_by(NotificationPolicy.name)
    )
    return list(session.scalars(query))


def last_delivery_at(session: Session, policy_id: str, deployment_id: str | None) -> Any:
    """When the policy last made a message for this deployment's runs (its cool-down)."""
    query = sa.select(sa.func.max(NotificationDelivery.created)).where(
        NotificationDelivery.policy_id == policy_id,
        NotificationDelivery.status != "suppressed",
    )
    if deployment_id is not None:
        query = query.join(FlowRun, FlowRun.id == NotificationDelivery.flow_run_id).where(
            FlowRun.deployment_id == deployment_id
        )
    return session.scalar(query)


def due_deliveries(session: Session, now: datetime, limit: int) -> list[int]:
    """Ids of deliveries to send now: pending and due, or sending with an expired claim."""
    query = (
        sa.select(NotificationDelivery.id)
        .where(
            sa.or_(
                sa.and_(
                    NotificationDelivery.status == "pending",
                    NotificationDelivery.next_attempt_at <= now,
                ),
                sa.and_(
                    NotificationDelivery.status == "sending",
                    NotificationDelivery.claimed_until < now,
                ),
            )
        )
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim_deliveries(
    session: Session, ids: Sequence[int], now: datetime, sender: str, lease: timedelta
) -> list[int]:
    """Of ``ids``, those this sender now holds: each a guarded UPDATE that matches only if
    the delivery is still due, so of two servers racing for one, one wins."""
    claimed = []
    table = cast(sa.Table, NotificationDelivery.__table__)
    for delivery_id in ids:
        result = session.execute(
            sa.update(table)
            .where(
                table.c.id == delivery_id,
                sa.or_(
                    sa.and_(table.c.status == "pending", table.c.next_attempt_at <= now),
                    sa.and_(table.c.status == "sending", table.c.claimed_until < now),
                ),
            )
            .values(status="sending", claimed_by=sender, claimed_until=now + lease)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    return claimed


def record_attempt(
    session: Session,
    delivery: NotificationDelivery | None,
    destination: NotificationDestination,
    *,
    started_at: datetime,
    duration: float,
    error: str | None,
    sender: str | None,
) -> DeliveryAttempt:
    attempt = DeliveryAttempt(
        delivery_id=delivery.id if delivery is not None else None,
        destination_id=destination.id,
        attempt=delivery.attempts if delivery is not None else 1,
        started_at=started_at,
        duration_seconds=duration,
        ok=error is None,
        error=error,
        sender=sender,
    )
    session.add(attempt)
    return attempt


def read_attempts(
    session: Session,
    *,
    destination_id: str | None = None,
    flow_run_id: str | None = None,
    deployment_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[DeliveryAttempt, NotificationDelivery | None]], int]:
    """Attempts, newest first, with their deliveries; and how many there are."""
    query = sa.select(DeliveryAttempt, NotificationDelivery).outerjoin(
        NotificationDelivery, NotificationDelivery.id == DeliveryAttempt.delivery_id
    )
    if destination_id is not None:
        query = query.where(DeliveryAttempt.destination_id == destination_id)
    if flow_run_id is not None:
        query = query.where(NotificationDelivery.flow_run_id == flow_run_id)
    if deployment_id is not None:  # the deliveries about its runs (tests name no run)
        runs = sa.select(FlowRun.id).where(FlowRun.deployment_id == deployment_id)
        query = query.where(NotificationDelivery.flow_run_id.in_(runs))
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(DeliveryAttempt.started_at.desc(), DeliveryAttempt.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(row[0], row[1]) for row in rows], total
