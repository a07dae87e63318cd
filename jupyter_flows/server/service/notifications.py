"""Notifications: destinations (an apprise URL stored as a credential), policies (which
events of whose runs go where), what was sent (deliveries and their attempts), and the
message a run's event becomes.

No answer carries a destination's URL: it is a credential's value, encrypted at rest and
read only by the delivery service (``background/notifier.py``) and "send a test".
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.credentials import CredentialError, Keyring, WrongKey, check_name
from jupyter_flows.engine.states import StateType
from jupyter_flows.server.errors import Conflict, CredentialsKeyError, InvalidInput, NotFound
from jupyter_flows.server.service import iso, page
from jupyter_flows.store import notifications as store
from jupyter_flows.store.models import (
    NOTIFY_EVENTS,
    Agent,
    Credential,
    Deployment,
    FlowGroup,
    FlowRun,
    FlowRunState,
    FlowVersion,
    LogLine,
    NotificationDelivery,
    NotificationDestination,
    NotificationPolicy,
    OutboxEvent,
    TaskRun,
)
from jupyter_flows.store.queues import CLAIM_MESSAGE
from jupyter_flows.store.types import utcnow

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateDestination, CreatePolicy

#: The credential that holds a destination's URL: ``notify-<destination name>``.
CREDENTIAL_PREFIX = "notify-"
#: Lines of a failing cell's source and of its traceback's end a message carries.
SOURCE_LINES = 5
TRACEBACK_LINES = 12
_FAILED_TYPES = (StateType.FAILED, StateType.CRASHED, StateType.TIMED_OUT)


# ------------------------------------------------------------------ destinations


def destination_out(destination: NotificationDestination) -> dict[str, Any]:
    return {
        "name": destination.name,
        "scheme": destination.scheme,
        "status": "dead" if destination.dead_since is not None else "ok",
        "consecutive_failures": destination.consecutive_failures,
        "dead_since": iso(destination.dead_since),
        "last_error": destination.last_error,
        "created": iso(destination.created),
        "updated": iso(destination.updated),
    }


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if not scheme or "://" not in url:
        raise InvalidInput("a destination's url is an apprise URL (mailto://…, json://…, …)")
    return scheme[:32]


def _encrypt(keyring: Keyring, value: str) -> str:
    try:
        return keyring.cipher().encrypt(value)
    except CredentialError as error:
        raise CredentialsKeyError(str(error)) from None


def destination_url(
    session: Session, keyring: Keyring, destination: NotificationDestination
) -> str:
    credential = session.get(Credential, destination.credential_id)
    if credential is None:  # the foreign key restricts its deletion
        raise NotFound(f"the credential of destination {destination.name!r} is gone")
    try:
        return keyring.cipher().decrypt(credential.ciphertext, credential.name)
    except (WrongKey, CredentialError) as error:
        raise CredentialsKeyError(str(error)) from None


def create_destination(
    session: Session, keyring: Keyring, body: CreateDestination
) -> dict[str, Any]:
    try:
        check_name(body.name)
    except CredentialError as error:
        raise InvalidInput(str(error).replace("credential name", "destination name")) from None
    scheme = _scheme(body.url)
    ciphertext = _encrypt(keyring, body.url)
    credential_name = CREDENTIAL_PREFIX + body.name
    existing = _destination(session, body.name, missing_ok=True)
    if existing is not None and not body.replace:
        raise Conflict(f"destination {body.name!r} exists (replace it with replace: true)")
    credential = session.scalar(sa.select(Credential).where(Credential.name == credential_name))
    if credential is None:
        credential = Credential(name=credential_name, ciphertext=ciphertext)
        session.add(credential)
    else:
        credential.ciphertext = ciphertext
        credential.updated = utcnow()
    session.flush()
    if existing is None:
        existing = NotificationDestination(
            name=body.name, credential_id=credential.id, scheme=scheme
        )
        session.add(existing)
        created = True
    else:
        existing.credential_id, existing.scheme = credential.id, scheme
        _revive(existing)
        created = False
    session.flush()
    return {**destination_out(existing), "created_now": created}


def _revive(destination: NotificationDestination) -> None:
    destination.dead_since = None
    destination.consecutive_failures = 0
    destination.last_error = None
    destination.updated = utcnow()


def _destination(
    session: Session, name: str, *, missing_ok: bool = False
) -> NotificationDestination | None:
    query = sa.select(NotificationDestination).where(NotificationDestination.name == name)
    found = session.scalar(query)
    if found is None and not missing_ok:
        raise NotFound(f"No notification destination {name!r}")
    return found


def list_destinations(session: Session, *, limit: int, offset: int) -> dict[str, Any]:
    total = session.scalar(sa.select(sa.func.count()).select_from(NotificationDestination)) or 0
    rows = session.scalars(
        sa.select(NotificationDestination)
        .order_by(NotificationDestination.name)
        .limit(limit)
        .offset(offset)
    )
    return page([destination_out(d) for d in rows], total, limit, offset)


def delete_destination(session: Session, name: str) -> None:
    destination = _destination(session, name)
    assert destination is not None
    credential_id = destination.credential_id
    session.delete(destination)
    session.flush()
    credential = session.get(Credential, credential_id)
    if credential is not None and credential.name == CREDENTIAL_PREFIX + name:
        session.delete(credential)


def test_target(session: Session, keyring: Keyring, name: str) -> dict[str, Any]:
    """What ``send a test`` sends, and where (the URL stays on the server)."""
    destination = _destination(session, name)
    assert destination is not None
    return {
        "destination_id": destination.id,
        "url": destination_url(session, keyring, destination),
        "title": "jupyter-flows: a test notification",
        "body": f"A test of the notification destination {name!r}.",
    }


def record_test(
    session: Session,
    destination_id: str,
    *,
    started_at: datetime,
    duration: float,
    error: str | None,
) -> dict[str, Any]:
    """A test's attempt, in the log; a test that went through revives a dead destination."""
    destination = session.get(NotificationDestination, destination_id)
    if destination is None:
        raise NotFound("the destination was deleted during its test")
    store.record_attempt(
        session,
        None,
        destination,
        started_at=started_at,
        duration=duration,
        error=error,
        sender="test",
    )
    if error is None:
        _revive(destination)
    session.flush()
    return {"ok": error is None, "error": error, "destination": destination_out(destination)}


# ------------------------------------------------------------------ policies


def policy_out(session: Session, policy: NotificationPolicy) -> dict[str, Any]:
    names = _destination_names(session, policy.destination_ids)
    deployment = session.get(Deployment, policy.deployment_id) if policy.deployment_id else None
    return {
        "name": policy.name,
        "deployment_id": policy.deployment_id,
        "deployment": deployment.name if deployment is not None else None,
        "flow_id": policy.flow_group_id or (deployment.flow_group_id if deployment else None),
        "events": list(policy.events),
        "destinations": [names.get(i, i) for i in policy.destination_ids],
        "running_after_seconds": policy.running_after_seconds,
        "cooldown_seconds": policy.cooldown_seconds,
        "enabled": policy.enabled,
        "created": iso(policy.created),
    }


def _destination_names(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    query = sa.select(NotificationDestination.id, NotificationDestination.name).where(
        NotificationDestination.id.in_(ids)
    )
    return {row[0]: row[1] for row in session.execute(query)}


def destination_ids(session: Session, names: list[str]) -> list[str]:
    ids = []
    for name in names:
        destination = _destination(session, name)
        assert destination is not None
        ids.append(destination.id)
    return ids


def create_policy(session: Session, body: CreatePolicy) -> dict[str, Any]:
    if (body.deployment_id is None) == (body.flow_id is None):
        raise InvalidInput("a policy is for one deployment (deployment_id) or one flow (flow_id)")
    if body.deployment_id is not None and session.get(Deployment, body.deployment_id) is None:
        raise NotFound(f"No deployment {body.deployment_id!r}")
    if body.flow_id is not None and session.get(FlowGroup, body.flow_id) is None:
        raise NotFound(f"No flow {body.flow_id!r}")
    unknown = sorted(set(body.events) - set(NOTIFY_EVENTS))
    if unknown or not body.events:
        raise InvalidInput(f"events are among {', '.join(NOTIFY_EVENTS)} (got {unknown})")
    if "Running" in body.events and not body.running_after_seconds:
        raise InvalidInput('the "Running" event needs running_after_seconds')
    existing = session.scalar(
        sa.select(NotificationPolicy).where(NotificationPolicy.name == body.name)
    )
    if existing is not None and not body.replace:
        raise Conflict(f"policy {body.name!r} exists (replace it with replace: true)")
    policy = existing or NotificationPolicy(name=body.name)
    policy.deployment_id = body.deployment_id
    policy.flow_group_id = body.flow_id
    policy.events = list(dict.fromkeys(body.events))
    policy.destination_ids = destination_ids(session, body.destinations)
    policy.running_after_seconds = body.running_after_seconds
    policy.cooldown_seconds = body.cooldown_seconds
    policy.enabled = body.enabled
    if existing is None:
        session.add(policy)
    session.flush()
    return {**policy_out(session, policy), "created_now": existing is None}


def list_policies(session: Session, *, limit: int, offset: int) -> dict[str, Any]:
    total = session.scalar(sa.select(sa.func.count()).select_from(NotificationPolicy)) or 0
    rows = session.scalars(
        sa.select(NotificationPolicy).order_by(NotificationPolicy.name).limit(limit).offset(offset)
    )
    return page([policy_out(session, p) for p in rows], total, limit, offset)


def delete_policy(session: Session, name: str) -> None:
    policy = session.scalar(sa.select(NotificationPolicy).where(NotificationPolicy.name == name))
    if policy is None:
        raise NotFound(f"No notification policy {name!r}")
    session.delete(policy)


# ------------------------------------------------------------------ the log


def list_attempts(
    session: Session,
    *,
    destination: str | None,
    flow_run_id: str | None,
    deployment_id: str | None = None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    destination_id = None
    if destination is not None:
        found = _destination(session, destination)
        assert found is not None
        destination_id = found.id
    rows, total = store.read_attempts(
        session,
        destination_id=destination_id,
        flow_run_id=flow_run_id,
        deployment_id=deployment_id,
        limit=limit,
        offset=offset,
    )
    names = _destination_names(session, sorted({a.destination_id for a, _ in rows}))
    items = [
        {
            "destination": names.get(attempt.destination_id, attempt.destination_id),
            "attempt": attempt.attempt,
            "started_at": iso(attempt.started_at),
            "duration_seconds": round(attempt.duration_seconds, 4),
            "ok": attempt.ok,
            "error": attempt.error,
            "sender": attempt.sender,
            "delivery": None
            if delivery is None
            else {
                "id": delivery.id,
                "event": delivery.event,
                "flow_run_id": delivery.flow_run_id,
                "title": delivery.title,
                "status": delivery.status,
                "attempts": delivery.attempts,
                "next_attempt_at": iso(delivery.next_attempt_at)
                if delivery.status == "pending"
                else None,
            },
        }
        for attempt, delivery in rows
    ]
    return page(items, total, limit, offset)


# ------------------------------------------------------------------ events → deliveries


def expand_event(
    session: Session, event: OutboxEvent, now: datetime, public_url: str | None
) -> list[NotificationDelivery]:
    """The deliveries of one outbox event: one per destination of each matching policy
    (a message within a policy's cool-down is recorded as suppressed, not sent)."""
    run = session.get(FlowRun, event.flow_run_id)
    if run is None:
        return []
    policies = [
        p
        for p in store.policies_for(session, run.deployment_id, run.flow_group_id)
        if event.event in p.events
    ]
    if event.event == "Running" and event.dedup_key:  # written for one policy's duration
        policies = [p for p in policies if event.dedup_key.startswith(f"running:{p.id}:")]
    if not policies:
        return []
    title, body = render_message(session, run, event, public_url)
    made = []
    for policy in policies:
        status = "pending"
        if policy.cooldown_seconds > 0:
            last = store.last_delivery_at(session, policy.id, run.deployment_id)
            if last is not None and now - last < timedelta(seconds=policy.cooldown_seconds):
                status = "suppressed"
        for destination_id in policy.destination_ids:
            if session.get(NotificationDestination, destination_id) is None:
                continue  # deleted since the policy named it
            delivery = NotificationDelivery(
                outbox_id=event.id,
                policy_id=policy.id,
                destination_id=destination_id,
                flow_run_id=run.id,
                event=event.event,
                title=title,
                body=body,
                status=status,
                next_attempt_at=now,
                created=now,
            )
            session.add(delivery)
            made.append(delivery)
    session.flush()
    return made


def run_link(public_url: str | None, run_id: str) -> str | None:
    """The link that opens the run's view in JupyterLab (``/lab?flows-run=<id>``)."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/lab?flows-run={run_id}"


def render_message(
    session: Session, run: FlowRun, event: OutboxEvent, public_url: str | None
) -> tuple[str, str]:
    """The title and text of a run's event: what a person needs to act on it."""
    flow = session.get(FlowGroup, run.flow_group_id)
    deployment = session.get(Deployment, run.deployment_id) if run.deployment_id else None
    flow_name = flow.name if flow is not None else run.flow_group_id
    state = event.state_name or event.event
    if event.event == "Running":
        state = "still Running"
    title = f"jupyter-flows: {flow_name} / {run.name}: {state}"
    lines = [f"Flow: {flow_name}" + (f" (deployment {deployment.name})" if deployment else "")]
    lines.append(f"Run: {run.name} ({run.id})")
    lines.append(f"State: {state}" + (f": {event.message}" if event.message else ""))
    lines.append(f"Parameters: {json.dumps(run.parameters or {}, sort_keys=True, default=str)}")
    if event.event == "Late":
        lines.append("No agent started it: check that an agent serves its work queue.")
    agent = session.get(Agent, run.agent_id) if run.agent_id else None
    infrastructure = _infrastructure(session, run)
    if agent is not None or infrastructure:
        lines.append(
            "Agent: "
            + (agent.name if agent is not None else "none")
            + (f" (infrastructure: {infrastructure})" if infrastructure else "")
        )
    if event.event in ("Failed", "Crashed", "TimedOut"):
        pending = _last_pending_message(session, run)
        # What the infrastructure said ("pod pending: ImagePullBackOff"): often why a run
        # that crashed on start did.
        if pending and pending != CLAIM_MESSAGE:
            lines.append(f"Last Pending state: {pending}")
        lines.extend(_failure_lines(session, run))
    link = run_link(public_url, run.id)
    if link:
        lines.append(f"Open in JupyterLab: {link}")
    return title, "\n".join(lines)


def _last_pending_message(session: Session, run: FlowRun) -> str | None:
    query = (
        sa.select(FlowRunState.message)
        .where(FlowRunState.run_id == run.id, FlowRunState.type == StateType.PENDING)
        .order_by(FlowRunState.seq.desc())
        .limit(1)
    )
    return session.scalar(query)


def _content(session: Session, run: FlowRun) -> tuple[dict[str, Any], str | None]:
    if run.flow_version_id is None:
        return {}, None
    version = session.get(FlowVersion, run.flow_version_id)
    if version is None:
        return {}, None
    return version.content or {}, version.entrypoint


def _infrastructure(session: Session, run: FlowRun) -> str | None:
    """Where the run ran, as its claim recorded it (a store that has the run's
    ``infrastructure`` column), else what its flow's run config asks for."""
    recorded = getattr(run, "infrastructure", None)
    if recorded:
        return str(recorded)
    content, _ = _content(session, run)
    run_config = content.get("run_config") or {}
    value = run_config.get("infrastructure") if isinstance(run_config, dict) else None
    if isinstance(value, dict):
        value = value.get("type") or value.get("name")
    return str(value) if value else None


def _failure_lines(session: Session, run: FlowRun) -> list[str]:
    """The failing task (a notebook's cell: its label, first lines of its source) and the
    last frames of its traceback, from the task run's state and its error log line."""
    failed = session.scalars(
        sa.select(TaskRun)
        .where(TaskRun.flow_run_id == run.id, TaskRun.state_type.in_(_FAILED_TYPES))
        .order_by(TaskRun.end_time.desc().nulls_last(), TaskRun.id.desc())
        .limit(20)
    ).all()
    if not failed:
        return []
    task_run = next(
        (t for t in failed if (t.state_message or "").startswith("CellError")), failed[0]
    )
    lines = [f"Failing task: {task_run.task_key}: {task_run.state_message or ''}".rstrip(": ")]
    source = _cell_source(session, run, task_run)
    if source:
        lines.append("Cell source:")
        lines.extend("    " + line for line in source)
    errors = session.scalars(
        sa.select(LogLine.message)
        .where(LogLine.task_run_id == task_run.id, LogLine.level >= 40)
        .order_by(LogLine.timestamp.desc(), LogLine.id.desc())
        .limit(10)
    ).all()
    # The engine logs the cell's error with its traceback; "Finished in state …" follows.
    error_line = next((m for m in errors if "Traceback" in m), None)
    if error_line is not None:
        text = error_line.split("Traceback", 1)[1].split("\n", 1)[-1]
        frames = [line for line in text.rstrip().splitlines() if line.strip()]
        lines.append("Traceback (last frames):")
        lines.extend("    " + line for line in frames[-TRACEBACK_LINES:])
    return lines


def _cell_source(session: Session, run: FlowRun, task_run: TaskRun) -> list[str]:
    """The first lines of the failing cell: the cell of the task whose first line the
    error names (``cell [3] "x = 1 / 0" raised …``), read from the notebook's blob."""
    content, entrypoint = _content(session, run)
    if not entrypoint or "#sha256=" not in entrypoint:
        return []
    task = next((t for t in content.get("tasks") or [] if t.get("key") == task_run.task_key), None)
    if task is None or not task.get("cell_ids"):
        return []
    try:
        from jupyter_flows.storage import BlobStore

        digest = entrypoint.split("#sha256=", 1)[1]
        notebook = json.loads(BlobStore().get(digest))
    except Exception:  # the blob store is elsewhere, or the blob is not a notebook
        return []
    cells = {cell.get("id"): cell for cell in notebook.get("cells") or []}
    sources = []
    for cell_id in task["cell_ids"]:
        cell = cells.get(cell_id)
        if cell is not None:
            text = cell.get("source") or ""
            sources.append("".join(text) if isinstance(text, list) else str(text))
    if not sources:
        return []
    message = task_run.state_message or ""
    chosen = next(
        (s for s in sources if _first_line(s) and _first_line(s)[:40] in message),
        sources[-1],
    )
    return [line for line in chosen.splitlines() if line.strip()][:SOURCE_LINES]


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")
