"""The delivery service on SQLite and PostgreSQL: two servers on one database send each
message once; automations fire from the outbox (3 failures in a row pause a deployment)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from jupyter_flows.credentials import Keyring
from jupyter_flows.engine.states import State, StateType
from jupyter_flows.server.background import Notifier
from jupyter_flows.server.service import notifications, run_states
from jupyter_flows.server.wire import CreateDestination, CreatePolicy
from jupyter_flows.store import Database, deployments, flows, queues, runs
from jupyter_flows.store.models import (
    Automation,
    AutomationFiring,
    Deployment,
    FlowRun,
    NotificationDelivery,
    OutboxEvent,
)
from jupyter_flows.store.types import utcnow

KEY = "mO0tSwbB4ClIYzz4Y8l3lYGd7s0d3Fb7Sx0kyoAGkTY="


@pytest.fixture
def db(flows_db_url: str) -> Iterator[Database]:
    database = Database(flows_db_url, upgrade=False)
    yield database
    database.dispose()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring({"JUPYTER_FLOWS_CREDENTIALS_KEY": KEY})


def make_deployment(db: Database, name: str = "daily") -> str:
    with db.transaction() as s:
        group = flows.get_or_create_flow_group(s, "default", "etl")
        queue = queues.get_or_create_work_queue(s, "default")
        made = deployments.create_deployment(
            s, flow_group_id=group.id, name=name, work_queue_id=queue.id
        )
        return made.id


def end_run(db: Database, deployment_id: str, final: StateType) -> str:
    """A run of the deployment that went Pending → Running → ``final``."""
    with db.transaction() as s:
        deployment = s.get(Deployment, deployment_id)
        assert deployment is not None
        run = runs.create_flow_run(
            s,
            flow_group_id=deployment.flow_group_id,
            deployment_id=deployment_id,
            state=StateType.PENDING,
            parameters={"n": 1},
        )
        for state in (StateType.RUNNING, final):
            run_states.apply_state(s, "flow_run", run, State(state))
        return run.id


def add_destination(db: Database, keyring: Keyring, deployment_id: str) -> None:
    with db.transaction() as s:
        body = CreateDestination(name="hook", url="json://127.0.0.1:9/hook")
        notifications.create_destination(s, keyring, body)
        policy = CreatePolicy(
            name="p", deployment_id=deployment_id, events=["Failed"], destinations=["hook"]
        )
        notifications.create_policy(s, policy)


def test_two_servers_on_one_database_send_each_message_once(db: Database, keyring: Keyring) -> None:
    deployment_id = make_deployment(db)
    add_destination(db, keyring, deployment_id)
    made = {end_run(db, deployment_id, StateType.FAILED) for _ in range(20)}
    sent: list[tuple[str, str]] = []
    lock = threading.Lock()

    def sender(server: str) -> Any:
        def send(url: str, title: str, body: str) -> None:
            time.sleep(0.005)  # a send takes time: the other server runs meanwhile
            run_id = body.split("Run: ", 1)[1].split("(", 1)[1].split(")", 1)[0]
            with lock:
                sent.append((run_id, server))

        return send

    servers = [
        Notifier(db, keyring, sender=sender(name), server_id=name, batch_size=3)
        for name in ("a", "b")
    ]

    def work(notifier: Notifier) -> None:
        deadline = time.monotonic() + 30
        while len(sent) < len(made) and time.monotonic() < deadline:
            notifier.run_once()

    threads = [threading.Thread(target=work, args=(n,)) for n in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for notifier in servers:
        notifier.run_once()  # nothing is left for either
        notifier.close()
    counts = Counter(run_id for run_id, _ in sent)
    assert set(counts) == made and set(counts.values()) == {1}


def test_three_failures_in_a_row_pause_the_deployment_once(db: Database, keyring: Keyring) -> None:
    deployment_id = make_deployment(db)
    with db.transaction() as s:
        s.add(
            Automation(
                name="pause-on-3",
                deployment_id=deployment_id,
                trigger={"event": "consecutive_failures", "count": 3},
                action={"type": "pause"},
            )
        )
    notifier = Notifier(db, keyring, sender=lambda *a: None)
    end_run(db, deployment_id, StateType.FAILED)
    end_run(db, deployment_id, StateType.COMPLETED)  # breaks the streak
    end_run(db, deployment_id, StateType.FAILED)
    end_run(db, deployment_id, StateType.FAILED)
    notifier.run_once()
    with db.read_session() as s:
        assert not s.get(Deployment, deployment_id).paused  # type: ignore[union-attr]
    end_run(db, deployment_id, StateType.CRASHED)
    end_run(db, deployment_id, StateType.FAILED)  # a 4th: the same streak, no new firing
    notifier.run_once()
    notifier.close()
    with db.read_session() as s:
        assert s.get(Deployment, deployment_id).paused  # type: ignore[union-attr]
        firings = s.query(AutomationFiring).all()
        assert [(f.ok, f.result) for f in firings] == [(True, {"paused": deployment_id})]
        assert s.query(OutboxEvent).filter(OutboxEvent.processed_at.is_(None)).count() == 0


def test_a_cool_down_suppresses_the_messages_inside_it(db: Database, keyring: Keyring) -> None:
    deployment_id = make_deployment(db)
    with db.transaction() as s:
        notifications.create_destination(
            s, keyring, CreateDestination(name="hook", url="json://127.0.0.1:9/hook")
        )
        policy = CreatePolicy(
            name="p",
            deployment_id=deployment_id,
            events=["Failed"],
            destinations=["hook"],
            cooldown_seconds=3600.0,
        )
        notifications.create_policy(s, policy)
    sent: list[str] = []
    notifier = Notifier(db, keyring, sender=lambda url, title, body: sent.append(title))
    for _ in range(3):
        end_run(db, deployment_id, StateType.FAILED)
        notifier.run_once()
    notifier.close()
    assert len(sent) == 1
    with db.read_session() as s:
        statuses = sorted(d.status for d in s.query(NotificationDelivery))
    assert statuses == ["sent", "suppressed", "suppressed"]


def test_a_run_still_running_after_the_duration_notifies_once(
    db: Database, keyring: Keyring
) -> None:
    deployment_id = make_deployment(db)
    with db.transaction() as s:
        notifications.create_destination(
            s, keyring, CreateDestination(name="hook", url="json://127.0.0.1:9/hook")
        )
        policy = CreatePolicy(
            name="slow",
            deployment_id=deployment_id,
            events=["Running"],
            destinations=["hook"],
            running_after_seconds=600.0,
        )
        notifications.create_policy(s, policy)
        deployment = s.get(Deployment, deployment_id)
        assert deployment is not None
        run = runs.create_flow_run(
            s,
            flow_group_id=deployment.flow_group_id,
            deployment_id=deployment_id,
            state=StateType.PENDING,
        )
        run_states.apply_state(s, "flow_run", run, State(StateType.RUNNING))
    sent: list[str] = []
    notifier = Notifier(db, keyring, sender=lambda url, title, body: sent.append(body))
    notifier.run_once(utcnow() + timedelta(minutes=5))
    assert sent == []  # not yet
    later = utcnow() + timedelta(minutes=11)
    notifier.run_once(later)
    notifier.run_once(later + timedelta(minutes=1))
    notifier.close()
    assert len(sent) == 1
    assert "still Running: running for more than 10 min" in sent[0]


def test_a_late_run_is_cancelled_by_an_automation(db: Database, keyring: Keyring) -> None:
    from jupyter_flows.server.background import LateRunMarker

    deployment_id = make_deployment(db)
    with db.transaction() as s:
        s.add(
            Automation(
                name="cancel-late",
                deployment_id=deployment_id,
                trigger={"event": "late"},
                action={"type": "cancel"},
            )
        )
        deployment = s.get(Deployment, deployment_id)
        assert deployment is not None
        run = runs.create_flow_run(
            s,
            flow_group_id=deployment.flow_group_id,
            deployment_id=deployment_id,
            work_queue_id=deployment.work_queue_id,
            state=StateType.SCHEDULED,
            scheduled_time=utcnow() - timedelta(minutes=5),
        )
    assert LateRunMarker(db).run_once() == 1
    notifier = Notifier(db, keyring, sender=lambda *a: None)
    notifier.run_once()
    notifier.close()
    with db.read_session() as s:
        ended = s.get(FlowRun, run.id)
        assert ended is not None and ended.state_type is StateType.CANCELLED
        (firing,) = s.query(AutomationFiring).all()
        assert firing.ok and firing.result["cancelled"] == run.id


def test_with_no_policy_or_automation_the_events_are_marked_done_at_once(
    db: Database, keyring: Keyring
) -> None:
    """A server nobody set notifications up on pays one statement per tick for its
    events, and a policy added later applies from then on."""
    import sqlalchemy as sa

    deployment_id = make_deployment(db)
    for _ in range(5):
        end_run(db, deployment_id, StateType.FAILED)
    sent: list[str] = []
    notifier = Notifier(db, keyring, sender=lambda url, title, body: sent.append(body))
    assert notifier.run_once() == 0
    with db.transaction(readonly=True) as s:
        waiting = s.scalar(sa.select(sa.func.count()).where(OutboxEvent.processed_at.is_(None)))
        deliveries = s.scalar(sa.select(sa.func.count()).select_from(NotificationDelivery))
    assert waiting == 0 and deliveries == 0

    add_destination(db, keyring, deployment_id)
    end_run(db, deployment_id, StateType.FAILED)
    for _ in range(3):
        notifier.run_once()
    notifier.close()
    assert len(sent) == 1  # the failure after the policy, not the five before it
