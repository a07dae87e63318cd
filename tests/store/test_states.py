"""propose_state: the transition guard, the history, the timings, and lost races."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from jupyter_flows.engine.states import (
    FINAL_TYPES,
    INITIAL_TYPES,
    IllegalTransition,
    State,
    StateType,
    is_legal,
)
from jupyter_flows.store import Database, StateConflict, run_queries, runs
from jupyter_flows.store.errors import InvalidInput
from jupyter_flows.store.models import FlowRun
from tests.store.factories import T0, drive, make_group, make_run

ALL_TYPES = list(StateType)
ALL_PAIRS = list(itertools.product(ALL_TYPES, ALL_TYPES))


def _snapshot(session: Session, run: FlowRun) -> dict[str, object]:
    """The run's row as the database holds it, plus the length of its history."""
    session.expire_all()
    row = session.execute(sa.select(FlowRun.__table__).where(FlowRun.id == run.id)).one()
    fresh = session.get_one(FlowRun, run.id)
    return {**row._asdict(), "history": len(runs.read_state_history(session, fresh))}


@pytest.mark.parametrize(
    ("from_type", "to_type"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS]
)
def test_every_transition_pair(session: Session, from_type: StateType, to_type: StateType) -> None:
    run = make_run(session)
    drive(session, run, from_type)
    session.commit()
    before = _snapshot(session, run)
    run = session.get_one(FlowRun, run.id)
    proposed = State(to_type, timestamp=run.state_timestamp + timedelta(seconds=5))

    if is_legal(from_type, to_type):
        record = runs.propose_state(session, run, proposed)
        session.commit()
        after = _snapshot(session, run)
        assert after["state_type"] is to_type
        assert after["state_seq"] == before["state_seq"] + 1
        assert after["history"] == before["history"] + 1
        assert (record.type, record.seq) == (to_type, after["state_seq"])
    else:
        with pytest.raises(IllegalTransition) as raised:
            runs.propose_state(session, run, proposed)
        assert (raised.value.from_type, raised.value.to_type) == (from_type, to_type)
        session.commit()
        assert _snapshot(session, run) == before


@pytest.mark.parametrize("to_type", ALL_TYPES, ids=[t.value for t in ALL_TYPES])
def test_initial_state(session: Session, to_type: StateType) -> None:
    """A new run starts Scheduled or Pending; anything else is refused and writes no row."""
    group = make_group(session)
    if to_type in INITIAL_TYPES:
        run = runs.create_flow_run(session, flow_group_id=group.id, state=to_type)
        assert [h.type for h in runs.read_state_history(session, run)] == [to_type]
    else:
        with pytest.raises(IllegalTransition):
            runs.create_flow_run(session, flow_group_id=group.id, state=to_type)
        assert run_queries.count_flow_runs(session) == 0


def test_task_runs_use_the_same_guard(session: Session) -> None:
    flow_run = make_run(session)
    task_run = runs.create_task_run(session, flow_run_id=flow_run.id, task_key="load")
    assert task_run.state_type is StateType.PENDING
    with pytest.raises(IllegalTransition):
        runs.propose_state(session, task_run, StateType.RETRYING)
    runs.propose_state(session, task_run, StateType.RUNNING)
    runs.propose_state(session, task_run, StateType.COMPLETED)
    types = [h.type for h in runs.read_state_history(session, task_run)]
    assert types == [StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]


def test_timings_follow_the_states(session: Session) -> None:
    run = make_run(session, scheduled_time=T0)
    assert (run.expected_start_time, run.next_scheduled_start_time) == (T0, T0)

    def at(seconds: int) -> timedelta:
        return timedelta(seconds=seconds)

    for type_, second in [
        (StateType.PENDING, 10),
        (StateType.RUNNING, 20),
        (StateType.RETRYING, 50),  # first attempt ran 30 s
        (StateType.RUNNING, 60),
        (StateType.FAILED, 75),  # second attempt ran 15 s
    ]:
        runs.propose_state(session, run, State(type_, timestamp=T0 + at(second)))
    assert run.run_count == 2
    assert run.start_time == T0 + at(20)
    assert run.end_time == T0 + at(75)
    assert run.total_run_time == pytest.approx(45.0)

    # A re-run: Failed -> Scheduled clears end_time and sets the new due time.
    runs.propose_state(
        session, run, State(StateType.SCHEDULED, timestamp=T0 + at(80)), scheduled_time=T0 + at(90)
    )
    assert run.end_time is None
    assert run.next_scheduled_start_time == T0 + at(90)
    assert run.expected_start_time == T0  # the first expectation is kept

    session.commit()
    session.expire_all()
    fresh = session.get_one(FlowRun, run.id)  # what was written is what the instance showed
    assert (fresh.run_count, fresh.total_run_time, fresh.start_time) == (2, 45.0, T0 + at(20))
    history = runs.read_state_history(session, fresh)
    assert [h.seq for h in history] == list(range(1, 8))
    assert history[-1].details["scheduled_time"] == (T0 + at(90)).isoformat()


def test_updates_and_details_are_written_with_the_state(session: Session) -> None:
    run = make_run(session)
    record = runs.propose_state(
        session, run, StateType.PENDING, details={"reason": "claimed"}, updates={"name": "nightly"}
    )
    session.commit()
    session.expire_all()
    assert session.get_one(FlowRun, run.id).name == "nightly"
    assert record.details == {"reason": "claimed"}
    with pytest.raises(InvalidInput, match="run_count"):
        runs.propose_state(session, run, StateType.RUNNING, updates={"run_count": 7})


def test_naive_timestamp_refused(session: Session) -> None:
    run = make_run(session)
    with pytest.raises(InvalidInput):
        runs.propose_state(
            session, run, State(StateType.PENDING, timestamp=T0.replace(tzinfo=None))
        )


def test_lost_race_raises_conflict_and_writes_nothing(db: Database) -> None:
    """Two writers read the same Running run; the second to write gets StateConflict."""
    with db.session() as s:
        run_id = make_run(s).id
        drive(s, s.get_one(FlowRun, run_id), StateType.RUNNING)
        s.commit()

    with db.session() as loser:
        stale = loser.get_one(FlowRun, run_id)  # read while still Running
        loser.commit()  # (keeps the instance: the store's sessions do not expire on commit)
        with db.session() as winner:
            runs.set_flow_run_state(winner, run_id, StateType.COMPLETED)
            winner.commit()
        with pytest.raises(StateConflict) as raised:
            runs.propose_state(loser, stale, StateType.FAILED)
        assert raised.value.expected_type is StateType.RUNNING
        loser.rollback()

    with db.session() as s:
        fresh = run_queries.read_flow_run(s, run_id)
        assert fresh.state_type is StateType.COMPLETED
        assert [h.type for h in runs.read_state_history(s, fresh)][-1] is StateType.COMPLETED
        assert len(runs.read_state_history(s, fresh)) == 4


def test_set_state_of_unknown_run(session: Session) -> None:
    from jupyter_flows.store import NotFound

    with pytest.raises(NotFound, match="flow run"):
        runs.set_flow_run_state(session, "no-such-run", StateType.PENDING)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.sampled_from(sorted(INITIAL_TYPES, key=lambda t: t.value)),
    proposals=st.lists(st.sampled_from(ALL_TYPES), max_size=12),
)
def test_any_sequence_of_proposals_leaves_a_legal_history(
    session: Session, start: StateType, proposals: list[StateType]
) -> None:
    run = make_run(session, state=State(start, timestamp=T0))
    accepted = [start]
    for i, proposed in enumerate(proposals, start=1):
        try:
            runs.propose_state(session, run, State(proposed, timestamp=T0 + timedelta(seconds=i)))
        except IllegalTransition:
            continue
        accepted.append(proposed)
    session.commit()

    session.expire_all()
    fresh = session.get_one(FlowRun, run.id)
    history = [h.type for h in runs.read_state_history(session, fresh)]
    assert history == accepted
    assert history[0] in INITIAL_TYPES
    assert all(is_legal(a, b) for a, b in itertools.pairwise(history))
    assert fresh.state_type is history[-1]
    assert fresh.run_count == history.count(StateType.RUNNING)
    assert (fresh.end_time is not None) == (fresh.state_type in FINAL_TYPES)
    assert fresh.total_run_time >= 0


def test_concurrent_set_state_one_wins_the_other_sees_the_new_state(db: Database) -> None:
    """set_flow_run_state re-reads (and on PostgreSQL locks) the run: no lost update."""
    import threading

    with db.session() as s:
        run_id = make_run(s).id
        drive(s, s.get_one(FlowRun, run_id), StateType.RUNNING)
        s.commit()
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=60)

    def finish(to_type: StateType) -> None:
        try:
            barrier.wait()
            with db.session() as s:
                runs.set_flow_run_state(s, run_id, to_type)
                s.commit()
                outcomes.append(to_type.value)
        except IllegalTransition:
            outcomes.append("refused")
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=finish, args=(t,)) for t in (StateType.COMPLETED, StateType.FAILED)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(outcomes)[1] == "refused" and len(outcomes) == 2
    with db.session() as s:
        run = s.get_one(FlowRun, run_id)
        history = [h.type for h in runs.read_state_history(s, run)]
        assert history[-1] is run.state_type and run.state_type.value == sorted(outcomes)[0]
        assert len(history) == 4


# ------------------------------------------------------------------ many proposals at once


def _row(session: Session, run_id: str) -> dict[str, object]:
    row = session.execute(sa.select(FlowRun.__table__).where(FlowRun.id == run_id)).one()
    return {k: v for k, v in row._asdict().items() if k not in ("id", "name", "created", "updated")}


def _history(session: Session, run_id: str) -> list[tuple[object, ...]]:
    run = session.get_one(FlowRun, run_id)
    return [
        (h.seq, h.type, h.name, h.message, h.timestamp, h.details)
        for h in runs.read_state_history(session, run)
    ]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    proposals=st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from(ALL_TYPES), st.booleans()), max_size=16
    )
)
def test_proposals_at_once_write_what_one_at_a_time_writes(
    session: Session, proposals: list[tuple[int, StateType, bool]]
) -> None:
    """propose_states over two runs, states interleaved, leaves the same rows, history and
    refusals as propose_state called once per proposal on two twin runs."""
    group = make_group(session)
    first = State(StateType.SCHEDULED, timestamp=T0)
    batch = [make_run(session, group, state=first) for _ in range(2)]
    single = [make_run(session, group, state=first) for _ in range(2)]
    session.commit()

    def proposal(runs_: list[FlowRun], i: int) -> runs.Proposal:
        which, type_, extra = proposals[i]
        state = State(type_, message=f"#{i}", timestamp=T0 + timedelta(seconds=i + 1))
        when = T0 + timedelta(hours=i) if extra and type_ is StateType.SCHEDULED else None
        return runs.Proposal(runs_[which], state, when, {"n": i} if extra else None)

    outcomes = runs.propose_states(session, [proposal(batch, i) for i in range(len(proposals))])
    one_by_one: list[object] = []
    for i in range(len(proposals)):
        p = proposal(single, i)
        try:
            record = runs.propose_state(
                session, p.run, p.state, scheduled_time=p.scheduled_time, details=p.details
            )
            one_by_one.append(record.type)
        except IllegalTransition as exc:
            one_by_one.append(type(exc))
    session.commit()

    got = [o["type"] if isinstance(o, dict) else type(o) for o in outcomes]
    assert got == one_by_one
    shown = [{k: getattr(run, k) for k in _row(session, run.id)} for run in batch]
    session.expire_all()
    for mine, twin, instance in zip(batch, single, shown, strict=True):
        assert _row(session, mine.id) == _row(session, twin.id)
        assert _history(session, mine.id) == _history(session, twin.id)
        assert instance == _row(session, mine.id)  # the instance shows what was written


def test_a_run_that_lost_a_race_is_refused_whole_and_the_others_go_in(db: Database) -> None:
    """Three runs proposed together, one of them changed by another writer since it was
    read: its proposals all get StateConflict and nothing of it is written."""
    with db.session() as s:
        group = make_group(s)
        ids = [make_run(s, group).id for _ in range(3)]
        s.commit()

    with db.session() as loser:
        stale = [loser.get_one(FlowRun, run_id) for run_id in ids]
        loser.commit()
        with db.session() as winner:
            runs.set_flow_run_state(winner, ids[1], StateType.CANCELLED)
            winner.commit()
        outcomes = runs.propose_states(
            loser,
            [
                runs.Proposal(run, State(type_, timestamp=T0 + timedelta(seconds=i)))
                for i, type_ in enumerate([StateType.PENDING, StateType.RUNNING])
                for run in stale
            ],
        )
        loser.commit()

    assert [type(o).__name__ if isinstance(o, Exception) else "ok" for o in outcomes] == [
        "ok",
        "StateConflict",
        "ok",
        "ok",
        "StateConflict",
        "ok",
    ]
    assert outcomes[1] is outcomes[4] and outcomes[1].expected_type is StateType.SCHEDULED
    with db.session() as s:
        states = [s.get_one(FlowRun, run_id).state_type for run_id in ids]
        assert states == [StateType.RUNNING, StateType.CANCELLED, StateType.RUNNING]
        assert [len(_history(s, run_id)) for run_id in ids] == [3, 2, 3]


def test_updates_of_some_runs_only(session: Session) -> None:
    """Runs whose proposals set other columns are written beside runs whose do not."""
    group = make_group(session)
    made = [make_run(session, group) for _ in range(3)]
    outcomes = runs.propose_states(
        session,
        [
            runs.Proposal(made[0], State(StateType.PENDING), updates={"name": "first"}),
            runs.Proposal(made[1], State(StateType.PENDING)),
            runs.Proposal(made[2], State(StateType.PENDING), updates={"name": "third"}),
            runs.Proposal(made[2], State(StateType.RUNNING), updates={"run_count": 3}),
        ],
    )
    session.commit()
    assert isinstance(outcomes[3], InvalidInput)
    session.expire_all()
    fresh = [session.get_one(FlowRun, run.id) for run in made]
    assert [r.name for r in fresh] == ["first", made[1].name, "third"]
    assert {r.state_type for r in fresh} == {StateType.PENDING}


def test_nothing_to_propose(session: Session) -> None:
    assert runs.propose_states(session, []) == []
