"""The crash reaper on SQLite and PostgreSQL; time is injected, nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.server.background import Reaper
from jupyter_flows.store import Database, flows, queues, run_queries, runs
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


def test_runs_of_a_silent_agent_crash_and_the_agent_goes_offline(db: Database) -> None:
    agent = setup_agent(db, "gone", NOW - 61 * SECOND)
    pending = claimed_run(db, agent)
    running = claimed_run(db, agent, to=StateType.RUNNING)
    cancelling = claimed_run(db, agent, to=StateType.CANCELLING)
    done = claimed_run(db, agent, to=StateType.COMPLETED)
    published: list[Any] = []

    assert Reaper(db, threshold=60 * SECOND, publish=published.append).run_once(NOW) == 3

    assert reread(db, pending).state_type is StateType.CRASHED
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


def test_an_agent_heard_again_before_the_tick_is_spared(db: Database) -> None:
    agent = setup_agent(db, "flaky", NOW - 61 * SECOND)
    run = claimed_run(db, agent, to=StateType.RUNNING)
    with db.transaction() as s:
        queues.heartbeat(s, agent.id, now=NOW)
    assert Reaper(db, threshold=60 * SECOND).run_once(NOW) == 0
    assert reread(db, run).state_type is StateType.RUNNING


def test_bad_settings_are_refused(db: Database) -> None:
    with pytest.raises(ValueError):
        Reaper(db, threshold=timedelta(0))
    with pytest.raises(ValueError):
        Reaper(db, interval=0)
