"""The crash reaper on SQLite and PostgreSQL; time is injected, nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.server.background import Reaper
from jupyter_flows.store import Database, flows, leases, queues, run_queries, runs
from jupyter_flows.store.models import Agent, FlowRun

UTC = timezone.utc
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
def db(flows_db_url: str) -> Iterator[Database]:
    database = Database(flows_db_url, upgrade=False)
    yield database
    database.dispose()


def setup_agent(db: Database, name: str, heard: datetime) -> Agent:
    with db.transaction() as s:
        queue = queues.get_or_create_work_queue(s, "default")
        return queues.register_agent(s, name, work_queue_id=queue.id, now=heard)


def claimed_run(
    db: Database, agent: Agent, *, to: StateType | None = None, retries: int = 0, **config: Any
) -> FlowRun:
    """A deployment-like run of the default queue, claimed by ``agent`` (then moved ``to``)."""
    with db.transaction() as s:
        content = {"tasks": [], "edges": [], "run_config": {"retries": retries, **config}}
        version, _ = flows.register_flow_version(s, "default", "etl", content)
        group = flows.read_flow_group(s, version.flow_group_id)
        queue = queues.get_or_create_work_queue(s, "default")
        run = runs.create_flow_run(
            s,
            flow_group_id=group.id,
            flow_version_id=version.id,
            work_queue_id=queue.id,
            scheduled_time=NOW - timedelta(minutes=5),
        )
        claimed = queues.claim_next_run(s, queue.id, agent.id, now=agent.last_heartbeat_at)
        assert claimed is not None and claimed.id == run.id
        if to is not None:
            runs.propose_state(
                s, claimed, State(StateType.RUNNING, timestamp=agent.last_heartbeat_at)
            )
            if to is not StateType.RUNNING:
                runs.propose_state(s, claimed, State(to, timestamp=agent.last_heartbeat_at))
        return claimed


def reread(db: Database, run: FlowRun) -> FlowRun:
    with db.read_session() as s:
        return run_queries.read_flow_run(s, run.id)


def history(db: Database, run: FlowRun) -> list[str]:
    with db.read_session() as s:
        return [h.name for h in runs.read_state_history(s, run_queries.read_flow_run(s, run.id))]


def test_a_live_agent_is_left_alone(db: Database) -> None:
    agent = setup_agent(db, "alive", NOW - 59 * SECOND)
    run = claimed_run(db, agent, to=StateType.RUNNING)
    assert Reaper(db, threshold=60 * SECOND).run_once(NOW) == 0
    assert reread(db, run).state_type is StateType.RUNNING


def test_runs_of_a_silent_agent_crash_or_go_back_and_the_agent_goes_offline(db: Database) -> None:
    agent = setup_agent(db, "gone", NOW - 61 * SECOND)
    pending = claimed_run(db, agent)
    running = claimed_run(db, agent, to=StateType.RUNNING)
    cancelling = claimed_run(db, agent, to=StateType.CANCELLING)
    done = claimed_run(db, agent, to=StateType.COMPLETED)
    published: list[Any] = []

    assert Reaper(db, threshold=60 * SECOND, publish=published.append).run_once(NOW) == 3

    handed_back = reread(db, pending)  # claimed, never started: back to the queue
    assert handed_back.state_type is StateType.SCHEDULED and handed_back.lease_token is None
    assert "handed back: its agent 'gone' stopped heartbeating" in (handed_back.state_message or "")
    crashed = reread(db, running)
    assert crashed.state_type is StateType.CRASHED
    assert "'gone' stopped heartbeating (61 s silent)" in (crashed.state_message or "")
    assert reread(db, cancelling).state_type is StateType.CANCELLED
    assert reread(db, done).state_type is StateType.COMPLETED
    with db.read_session() as s:
        assert queues.read_agent(s, agent.id).status == "offline"
    assert published  # the UI and waiting claims hear of it
    # A second tick finds nothing: the agent is offline now.
    assert Reaper(db, threshold=60 * SECOND).run_once(NOW + SECOND) == 0


def test_the_flow_retry_policy_schedules_a_new_attempt(db: Database) -> None:
    agent = setup_agent(db, "gone", NOW - 120 * SECOND)
    run = claimed_run(db, agent, to=StateType.RUNNING, retries=1, retry_delay_seconds=30)

    assert Reaper(db, threshold=60 * SECOND).run_once(NOW) == 1

    retried = reread(db, run)
    assert (retried.state_type, retried.state_name) == (StateType.SCHEDULED, "AwaitingRetry")
    assert retried.next_scheduled_start_time == NOW + 30 * SECOND
    assert retried.run_count == 1  # kept: the next attempt is the second
    assert history(db, run)[-2:] == ["Crashed", "AwaitingRetry"]

    # The second attempt dies with its agent too: no retries left, it stays Crashed.
    second = setup_agent(db, "second", NOW + 31 * SECOND)
    with db.transaction() as s:
        queue = queues.get_or_create_work_queue(s, "default")
        again = queues.claim_next_run(s, queue.id, second.id, now=NOW + 31 * SECOND)
        assert again is not None and again.id == run.id
        runs.propose_state(s, again, State(StateType.RUNNING, timestamp=NOW + 31 * SECOND))
    assert Reaper(db, threshold=60 * SECOND).run_once(NOW + 100 * SECOND) == 1
    final = reread(db, run)
    assert final.state_type is StateType.CRASHED and final.run_count == 2


def test_a_lease_renewed_before_the_tick_is_spared(db: Database) -> None:
    agent = setup_agent(db, "flaky", NOW - 61 * SECOND)
    run = claimed_run(db, agent, to=StateType.RUNNING)
    with db.transaction() as s:
        queues.heartbeat(s, agent.id, now=NOW)
        assert leases.renew(s, agent.id, [run.id], NOW, 60) == 1
    assert Reaper(db, threshold=60 * SECOND).run_once(NOW) == 0
    assert reread(db, run).state_type is StateType.RUNNING


def test_a_heartbeat_that_does_not_name_the_run_does_not_keep_it(db: Database) -> None:
    """The lease decides, not the agent's liveness: an agent that heartbeats but lost
    track of a run (its process gone, its end never reported) lets the lease run out."""
    agent = setup_agent(db, "forgetful", NOW - 61 * SECOND)
    run = claimed_run(db, agent, to=StateType.RUNNING)
    with db.transaction() as s:
        queues.heartbeat(s, agent.id, now=NOW)
    assert Reaper(db, threshold=60 * SECOND).run_once(NOW) == 1
    crashed = reread(db, run)
    assert crashed.state_type is StateType.CRASHED
    assert "stopped renewing the lease of attempt 1" in (crashed.state_message or "")
    assert crashed.lease_token is None  # the attempt is fenced from now on
    with db.read_session() as s:
        assert queues.read_agent(s, agent.id).status == "online"


def test_each_claim_is_a_new_attempt_and_a_retry_ends_the_old_lease(db: Database) -> None:
    agent = setup_agent(db, "gone", NOW - 120 * SECOND)
    run = claimed_run(db, agent, to=StateType.RUNNING, retries=1)
    first = reread(db, run)
    assert first.attempt == 1 and first.lease_token
    assert first.lease_expires_at == NOW - 60 * SECOND

    assert Reaper(db, threshold=60 * SECOND).run_once(NOW) == 1
    retried = reread(db, run)
    assert retried.state_type is StateType.SCHEDULED and retried.lease_token is None
    with db.transaction() as s:
        queue = queues.get_or_create_work_queue(s, "default")
        again = queues.claim_next_run(s, queue.id, agent.id, now=NOW, lease_seconds=30)
        assert again is not None
    second = reread(db, run)
    assert second.attempt == 2 and second.lease_token not in (None, first.lease_token)
    assert second.lease_expires_at == NOW + 30 * SECOND
    stale = leases.Lease(run.id, 1, first.lease_token or "")
    assert not leases.holds(second, stale)
    assert leases.holds(second, leases.Lease(run.id, 2, second.lease_token or ""))
    with pytest.raises(leases.StaleAttempt, match="attempt 1 .* is stale: the run is at attempt 2"):
        leases.check(second, stale)


def test_a_server_that_just_started_waits_one_threshold_before_reaping(db: Database) -> None:
    agent = setup_agent(db, "away", NOW - 200 * SECOND)
    run = claimed_run(db, agent, to=StateType.RUNNING)
    reaper = Reaper(db, threshold=60 * SECOND, started=NOW - 30 * SECOND)
    assert reaper.run_once(NOW) == 0  # the server was down: nobody could renew
    assert reread(db, run).state_type is StateType.RUNNING
    assert reaper.run_once(NOW + 31 * SECOND) == 1


def test_bad_settings_are_refused(db: Database) -> None:
    with pytest.raises(ValueError):
        Reaper(db, threshold=timedelta(0))
    with pytest.raises(ValueError):
        Reaper(db, interval=0)


def test_a_crashed_attempts_task_runs_end_crashed_with_it(db: Database) -> None:
    agent = setup_agent(db, "gone", NOW - 120 * SECOND)
    run = claimed_run(db, agent, to=StateType.RUNNING, retries=1)
    with db.transaction() as s:
        running = runs.create_task_run(s, flow_run_id=run.id, task_key="load")
        runs.propose_state(s, running, State(StateType.RUNNING, timestamp=NOW - 90 * SECOND))
        done = runs.create_task_run(s, flow_run_id=run.id, task_key="done")
        runs.propose_state(s, done, State(StateType.RUNNING, timestamp=NOW - 90 * SECOND))
        runs.propose_state(s, done, State(StateType.COMPLETED, timestamp=NOW - 80 * SECOND))
        waiting = runs.create_task_run(s, flow_run_id=run.id, task_key="train")
    assert Reaper(db, threshold=60 * SECOND).run_once(NOW) == 1
    with db.read_session() as s:
        task_runs = {t.task_key: t for t in run_queries.read_task_runs(s, run.id)}
    for key in ("load", "train"):
        assert task_runs[key].state_type is StateType.CRASHED, key
        assert task_runs[key].end_time == NOW
    assert task_runs["done"].state_type is StateType.COMPLETED
    assert waiting.id == task_runs["train"].id
