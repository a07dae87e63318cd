"""The agents' claim: exactly once under concurrency, and the queue's rules."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.store import Database, NotFound, queues, runs
from jupyter_flows.store.models import FlowRun, WorkQueue
from tests.store.factories import T0, drive, make_group, make_run

NOW = T0 + timedelta(hours=1)


def _queue_with_runs(
    session: Session, count: int, *, tags: list[str] | None = None, **queue_kwargs: object
) -> tuple[WorkQueue, list[str]]:
    queue = queues.create_work_queue(session, "q", **queue_kwargs)  # type: ignore[arg-type]
    group = make_group(session)
    ids = [
        make_run(
            session,
            group,
            work_queue_id=queue.id,
            tags=tags or [],
            scheduled_time=T0 + timedelta(seconds=i),
        ).id
        for i in range(count)
    ]
    return queue, ids


def _claim(db: Database, queue_id: str, agent_id: str) -> FlowRun | None:
    with db.session() as s:
        run = queues.claim_next_run(s, queue_id, agent_id, now=NOW)
        s.commit()
        return run


def test_claims_oldest_due_run_and_records_the_agent(db: Database, session: Session) -> None:
    queue, ids = _queue_with_runs(session, 3)
    agent = queues.register_agent(session, "agent-1", work_queue_id=queue.id, now=T0)
    session.commit()

    run = _claim(db, queue.id, agent.id)

    assert run is not None and run.id == ids[0]
    session.expire_all()
    claimed = session.get_one(FlowRun, ids[0])
    assert claimed.state_type is StateType.PENDING
    assert claimed.agent_id == agent.id
    history = runs.read_state_history(session, claimed)
    assert history[-1].details == {"agent_id": agent.id, "attempt": 1}
    assert queues.read_agent(session, agent.id).last_heartbeat_at == NOW  # polling = alive


def test_claims_late_runs_and_skips_runs_not_yet_due(db: Database, session: Session) -> None:
    queue = queues.create_work_queue(session, "q")
    agent = queues.register_agent(session, "a")
    future = make_run(session, work_queue_id=queue.id, scheduled_time=NOW + timedelta(minutes=5))
    late = make_run(session, work_queue_id=queue.id, scheduled_time=T0)
    runs.propose_state(session, late, State(StateType.SCHEDULED, name="Late"), scheduled_time=T0)
    session.commit()

    first = _claim(db, queue.id, agent.id)
    assert first is not None and first.id == late.id
    assert _claim(db, queue.id, agent.id) is None
    session.expire_all()
    assert session.get_one(FlowRun, future.id).state_type is StateType.SCHEDULED


def test_only_runs_of_this_queue(db: Database, session: Session) -> None:
    mine = queues.create_work_queue(session, "mine")
    other = queues.create_work_queue(session, "other")
    agent = queues.register_agent(session, "a")
    make_run(session, work_queue_id=other.id, scheduled_time=T0)
    make_run(session, scheduled_time=T0)  # no queue at all
    session.commit()
    assert _claim(db, mine.id, agent.id) is None


def test_paused_queue_gives_nothing_until_resumed(db: Database, session: Session) -> None:
    queue, ids = _queue_with_runs(session, 1, paused=True)
    agent = queues.register_agent(session, "a")
    session.commit()
    assert _claim(db, queue.id, agent.id) is None

    queues.update_work_queue(session, queue.id, paused=False)
    session.commit()
    run = _claim(db, queue.id, agent.id)
    assert run is not None and run.id == ids[0]


def test_tag_filter_needs_every_tag(db: Database, session: Session) -> None:
    queue = queues.create_work_queue(session, "gpu", tag_filter=["gpu", "large"])
    agent = queues.register_agent(session, "a")
    make_run(session, work_queue_id=queue.id, tags=["gpu"], scheduled_time=T0)
    both = make_run(
        session,
        work_queue_id=queue.id,
        tags=["large", "x", "gpu"],
        scheduled_time=T0 + timedelta(seconds=1),
    )
    session.commit()
    run = _claim(db, queue.id, agent.id)
    assert run is not None and run.id == both.id
    assert _claim(db, queue.id, agent.id) is None


def test_concurrency_limit_counts_pending_running_and_cancelling(
    db: Database, session: Session
) -> None:
    queue, ids = _queue_with_runs(session, 5, concurrency_limit=3)
    agent = queues.register_agent(session, "a")
    session.commit()

    claimed = [_claim(db, queue.id, agent.id) for _ in range(4)]
    assert [r.id for r in claimed if r] == ids[:3]
    assert claimed[3] is None  # three runs hold the three slots

    # Running and Cancelling still hold a slot; a final state frees it.
    runs.set_flow_run_state(session, ids[0], State(StateType.RUNNING, timestamp=NOW))
    runs.set_flow_run_state(session, ids[1], State(StateType.CANCELLING, timestamp=NOW))
    session.commit()
    assert _claim(db, queue.id, agent.id) is None
    runs.set_flow_run_state(session, ids[0], State(StateType.COMPLETED, timestamp=NOW))
    session.commit()
    fourth = _claim(db, queue.id, agent.id)
    assert fourth is not None and fourth.id == ids[3]
    assert queues.count_active_runs(session, queue.id) == 3


def test_limit_zero_holds_everything(db: Database, session: Session) -> None:
    queue, _ = _queue_with_runs(session, 1, concurrency_limit=0)
    agent = queues.register_agent(session, "a")
    session.commit()
    assert _claim(db, queue.id, agent.id) is None


def test_unknown_agent_or_queue(session: Session) -> None:
    queue = queues.create_work_queue(session, "q")
    agent = queues.register_agent(session, "a")
    session.commit()
    with pytest.raises(NotFound, match="agent"):
        queues.claim_next_run(session, queue.id, "nobody")
    session.rollback()
    with pytest.raises(NotFound, match="work queue"):
        queues.claim_next_run(session, "nowhere", agent.id)


def _claim_all_concurrently(
    db: Database, queue_id: str, workers: int
) -> tuple[Counter[str], list[BaseException]]:
    """``workers`` threads, each an agent with its own connections, claim until empty."""
    with db.session() as s:
        agent_ids = [queues.register_agent(s, f"agent-{i}").id for i in range(workers)]
        s.commit()
    claims: Counter[str] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(workers, timeout=60)

    def work(agent_id: str) -> None:
        try:
            start.wait()
            while (run := _claim(db, queue_id, agent_id)) is not None:
                with lock:
                    claims[run.id] += 1
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in agent_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return claims, errors


def test_every_run_is_claimed_exactly_once_under_concurrency(db: Database) -> None:
    with db.session() as s:
        queue, ids = _queue_with_runs(s, 400)
        s.commit()

    claims, errors = _claim_all_concurrently(db, queue.id, workers=4)

    assert errors == []
    assert set(claims) == set(ids)
    assert all(count == 1 for count in claims.values()), claims.most_common(3)
    with db.session() as s:
        pending = [
            r for r in s.query(FlowRun).all() if r.state_type is StateType.PENDING and r.agent_id
        ]
        assert len(pending) == 400
        # each run has exactly one Pending entry in its history
        one = s.get_one(FlowRun, ids[0])
        types = [h.type for h in runs.read_state_history(s, one)]
        assert types == [StateType.SCHEDULED, StateType.PENDING]


def test_concurrent_claims_respect_the_limit(db: Database) -> None:
    with db.session() as s:
        queue, _ = _queue_with_runs(s, 40, concurrency_limit=2)
        s.commit()

    claims, errors = _claim_all_concurrently(db, queue.id, workers=4)

    assert errors == []
    assert len(claims) == 2 and set(claims.values()) == {1}


def test_claim_after_the_run_was_cancelled_elsewhere(db: Database, session: Session) -> None:
    """A run cancelled between listing and claiming is not claimed."""
    queue, ids = _queue_with_runs(session, 2)
    agent = queues.register_agent(session, "a")
    drive(session, session.get_one(FlowRun, ids[0]), StateType.CANCELLED)
    session.commit()
    run = _claim(db, queue.id, agent.id)
    assert run is not None and run.id == ids[1]
