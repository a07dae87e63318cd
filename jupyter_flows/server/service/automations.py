"""Automations: "when EVENT then ACTION" rules on a deployment's runs, and their firings.

A small, declarative set, evaluated by the delivery service from the notification outbox
(the same events, in the same transaction that expands them, so each event fires each
rule once):

- triggers: ``{"event": "state", "states": ["Failed", …]}`` (a run reached one of these
  states; the outbox's events: Failed, Crashed, TimedOut, Completed, Late),
  ``{"event": "consecutive_failures", "count": N}`` (the deployment's last N finished runs
  failed; fires once per streak), ``{"event": "late"}``;
- actions: ``{"type": "notify", "destinations": [names]}``, ``{"type": "pause"}`` (the
  deployment), ``{"type": "cancel"}`` (the run), ``{"type": "run_deployment",
  "deployment_id": …, "parameters": {…}}`` (a run of another deployment with this run's
  parameters, overridden by those given).

Each firing is recorded with what its action did, or why it failed (an action that fails
leaves the event's other work alone).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import FINAL_TYPES, StateType
from jupyter_flows.server.errors import Conflict, InvalidInput, NotFound
from jupyter_flows.server.service import iso, page
from jupyter_flows.store import notifications as store
from jupyter_flows.store.models import (
    Automation,
    AutomationFiring,
    Deployment,
    FlowRun,
    NotificationDelivery,
    NotificationPolicy,
    OutboxEvent,
)

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateAutomation

FAILURES = ("Failed", "Crashed", "TimedOut")
_FAILED_TYPES = (StateType.FAILED, StateType.CRASHED, StateType.TIMED_OUT)
TRIGGERS = ("state", "consecutive_failures", "late")
ACTIONS = ("notify", "pause", "cancel", "run_deployment")


# ------------------------------------------------------------------ the rules


def automation_out(session: Session, automation: Automation) -> dict[str, Any]:
    last = session.scalar(
        sa.select(sa.func.max(AutomationFiring.fired_at)).where(
            AutomationFiring.automation_id == automation.id
        )
    )
    return {
        "name": automation.name,
        "deployment_id": automation.deployment_id,
        "trigger": dict(automation.trigger),
        "action": dict(automation.action),
        "enabled": automation.enabled,
        "last_fired_at": iso(last),
        "created": iso(automation.created),
    }


def check_rule(session: Session, trigger: dict[str, Any], action: dict[str, Any]) -> None:
    kind = trigger.get("event")
    if kind not in TRIGGERS:
        raise InvalidInput(f"trigger.event is one of {', '.join(TRIGGERS)}")
    if kind == "state":
        states = trigger.get("states")
        if not states or not set(states) <= {*FAILURES, "Completed", "Late"}:
            raise InvalidInput("trigger.states: among Failed, Crashed, TimedOut, Completed, Late")
    if kind == "consecutive_failures":
        count = trigger.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
            raise InvalidInput("trigger.count: how many failures in a row (1 to 1000)")
    action_type = action.get("type")
    if action_type not in ACTIONS:
        raise InvalidInput(f"action.type is one of {', '.join(ACTIONS)}")
    if action_type == "notify":
        from jupyter_flows.server.service.notifications import destination_ids

        if not action.get("destinations"):
            raise InvalidInput("a notify action names its destinations")
        destination_ids(session, list(action["destinations"]))
    if action_type == "run_deployment":
        target = action.get("deployment_id")
        if not isinstance(target, str) or session.get(Deployment, target) is None:
            raise InvalidInput("a run_deployment action names an existing deployment_id")
        if not isinstance(action.get("parameters", {}), dict):
            raise InvalidInput("action.parameters is an object")


def create_automation(session: Session, body: CreateAutomation) -> dict[str, Any]:
    if session.get(Deployment, body.deployment_id) is None:
        raise NotFound(f"No deployment {body.deployment_id!r}")
    check_rule(session, body.trigger, body.action)
    existing = session.scalar(sa.select(Automation).where(Automation.name == body.name))
    if existing is not None and not body.replace:
        raise Conflict(f"automation {body.name!r} exists (replace it with replace: true)")
    automation = existing or Automation(name=body.name)
    automation.deployment_id = body.deployment_id
    automation.trigger = dict(body.trigger)
    automation.action = dict(body.action)
    automation.enabled = body.enabled
    if existing is None:
        session.add(automation)
    session.flush()
    return {**automation_out(session, automation), "created_now": existing is None}


def list_automations(session: Session, *, limit: int, offset: int) -> dict[str, Any]:
    total = session.scalar(sa.select(sa.func.count()).select_from(Automation)) or 0
    rows = session.scalars(
        sa.select(Automation).order_by(Automation.name).limit(limit).offset(offset)
    )
    return page([automation_out(session, a) for a in rows], total, limit, offset)


def delete_automation(session: Session, name: str) -> None:
    automation = session.scalar(sa.select(Automation).where(Automation.name == name))
    if automation is None:
        raise NotFound(f"No automation {name!r}")
    session.delete(automation)


def list_firings(
    session: Session, *, automation: str | None, limit: int, offset: int
) -> dict[str, Any]:
    query = sa.select(AutomationFiring, Automation.name).join(
        Automation, Automation.id == AutomationFiring.automation_id
    )
    if automation is not None:
        query = query.where(Automation.name == automation)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(AutomationFiring.fired_at.desc(), AutomationFiring.id.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [
        {
            "automation": name,
            "flow_run_id": firing.flow_run_id,
            "fired_at": iso(firing.fired_at),
            "ok": firing.ok,
            "result": firing.result,
        }
        for firing, name in rows
    ]
    return page(items, total, limit, offset)


# ------------------------------------------------------------------ evaluation


def fire(session: Session, event: OutboxEvent, now: datetime) -> list[AutomationFiring]:
    """Fire the automations of the event's deployment whose trigger it meets."""
    if event.event == "Running":
        return []
    run = session.get(FlowRun, event.flow_run_id)
    if run is None or run.deployment_id is None:
        return []
    rules = session.scalars(
        sa.select(Automation)
        .where(Automation.deployment_id == run.deployment_id, Automation.enabled.is_(True))
        .order_by(Automation.name)
    ).all()
    firings = []
    for rule in rules:
        if not _triggered(session, rule.trigger, event, run):
            continue
        try:
            with session.begin_nested():
                result = _act(session, rule, event, run, now)
            ok = True
        except Exception as error:  # recorded: one rule's failure stops nothing else
            result, ok = {"error": f"{type(error).__name__}: {error}"}, False
        firing = AutomationFiring(
            automation_id=rule.id,
            outbox_id=event.id,
            flow_run_id=run.id,
            fired_at=now,
            ok=ok,
            result=result,
        )
        session.add(firing)
        firings.append(firing)
    session.flush()
    return firings


def _triggered(session: Session, trigger: dict[str, Any], event: OutboxEvent, run: FlowRun) -> bool:
    kind = trigger.get("event")
    if kind == "state":
        return event.event in (trigger.get("states") or [])
    if kind == "late":
        return event.event == "Late"
    if kind == "consecutive_failures" and event.event in FAILURES:
        count = int(trigger.get("count") or 1)
        ended = session.scalars(
            sa.select(FlowRun.state_type)
            .where(
                FlowRun.deployment_id == run.deployment_id,
                FlowRun.state_type.in_(sorted(FINAL_TYPES, key=lambda t: t.value)),
                FlowRun.state_timestamp <= event.occurred_at,
            )
            .order_by(FlowRun.state_timestamp.desc(), FlowRun.id.desc())
            .limit(count + 1)
        ).all()
        streak = 0
        for state_type in ended:
            if state_type not in _FAILED_TYPES:
                break
            streak += 1
        return streak == count  # once per streak: not again at count + 1
    return False


def _act(
    session: Session, rule: Automation, event: OutboxEvent, run: FlowRun, now: datetime
) -> dict[str, Any]:
    action = rule.action
    kind = action.get("type")
    if kind == "pause":
        from jupyter_flows.server.service.deployments import pause_deployment

        pause_deployment(session, rule.deployment_id, True)
        return {"paused": rule.deployment_id}
    if kind == "cancel":
        from jupyter_flows.server.service.run_states import cancel_flow_run

        out = cancel_flow_run(session, run.id)
        return {"cancelled": run.id, "state": (out.get("state") or {}).get("type")}
    if kind == "run_deployment":
        from jupyter_flows.server.service.deployments import run_deployment
        from jupyter_flows.server.wire import RunDeployment

        parameters = {**(run.parameters or {}), **(action.get("parameters") or {})}
        started = run_deployment(
            session,
            action["deployment_id"],
            RunDeployment(parameters=parameters, trigger="automation"),
        )
        return {"flow_run_id": started["id"], "parameters": parameters}
    if kind == "notify":
        from jupyter_flows.server.service.notifications import destination_ids, render_message

        title, body = render_message(session, run, event, None)
        ids = destination_ids(session, list(action.get("destinations") or []))
        for destination_id in ids:
            session.add(
                NotificationDelivery(
                    outbox_id=event.id,
                    destination_id=destination_id,
                    flow_run_id=run.id,
                    event=event.event,
                    title=title,
                    body=body,
                    status="pending",
                    next_attempt_at=now,
                    created=now,
                )
            )
        return {"notified": list(action.get("destinations") or [])}
    raise InvalidInput(f"unknown action {kind!r}")


# ------------------------------------------------------------------ "still running after D"


def enqueue_long_runs(session: Session, now: datetime, *, dry_run: bool = False) -> int:
    """A "Running" outbox event, once per policy and attempt, for each run still running
    after a policy's duration (two servers may both look: the event's dedup key is unique).
    ``dry_run``: only count them (in a read session: most ticks write nothing)."""
    policies = session.scalars(
        sa.select(NotificationPolicy).where(
            NotificationPolicy.enabled.is_(True),
            NotificationPolicy.running_after_seconds.is_not(None),
        )
    ).all()
    added = 0
    for policy in policies:
        if "Running" not in policy.events or not policy.running_after_seconds:
            continue
        since = now - timedelta(seconds=policy.running_after_seconds)
        query = sa.select(FlowRun).where(
            FlowRun.state_type == StateType.RUNNING, FlowRun.start_time <= since
        )
        if policy.deployment_id is not None:
            query = query.where(FlowRun.deployment_id == policy.deployment_id)
        else:
            query = query.where(FlowRun.flow_group_id == policy.flow_group_id)
        for run in session.scalars(query.limit(100)):
            key = running_key(policy.id, run)
            seen = sa.select(OutboxEvent.id).where(OutboxEvent.dedup_key == key)
            if session.scalar(seen) is not None:
                continue
            if dry_run:
                added += 1
                continue
            minutes = policy.running_after_seconds / 60
            try:
                with session.begin_nested():
                    store.enqueue(
                        session,
                        run,
                        "Running",
                        state_type=StateType.RUNNING,
                        state_name="Running",
                        message=f"running for more than {minutes:g} min",
                        occurred_at=now,
                        dedup_key=key,
                    )
                    session.flush()
            except IntegrityError:
                continue  # another server wrote it first
            added += 1
    return added


def running_key(policy_id: str, run: FlowRun) -> str:
    return f"running:{policy_id}:{run.id}:{run.run_count}"
