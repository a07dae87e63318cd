"""Log lines: 10k in one insert, then filtered, searched and paged; resends skipped."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store import logs, runs
from jupyter_flows.store.logs import LogRow
from jupyter_flows.store.models import LogLine
from tests.store.factories import T0, log_row, make_run

LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]


@pytest.fixture
def logged(session: Session) -> dict[str, str]:
    """A flow run with two task runs and 10,000 lines: line i is at T0 + i ms."""
    flow_run = make_run(session)
    load = runs.create_task_run(session, flow_run_id=flow_run.id, task_key="load")
    train = runs.create_task_run(session, flow_run_id=flow_run.id, task_key="train")
    task_ids = [None, load.id, train.id]
    lines = [
        log_row(
            flow_run.id,
            f"step {i} loss=0.{i:04d}" + (" 100% Done" if i % 1000 == 0 else ""),
            T0 + timedelta(milliseconds=i),
            task_run_id=task_ids[i % 3],
            level=LEVELS[i % 4],
            name="jupyter_flows.task",
        )
        for i in range(10_000)
    ]
    assert len(logs.insert_logs(session, lines)) == 10_000
    session.commit()
    return {"flow_run": flow_run.id, "load": load.id, "train": train.id}


def test_bulk_insert_of_ten_thousand_lines(session: Session, logged: dict[str, str]) -> None:
    page = logs.read_logs(session, flow_run_id=logged["flow_run"], limit=10_000)
    assert len(page) == 10_000
    assert [line.message for line in page[:2]] == [
        "step 0 loss=0.0000 100% Done",
        "step 1 loss=0.0001",
    ]
    assert page[-1].timestamp == T0 + timedelta(milliseconds=9_999)
    assert len(logs.insert_logs(session, [])) == 0


def test_filters(session: Session, logged: dict[str, str]) -> None:
    by_task = logs.read_logs(session, task_run_id=logged["load"], limit=10_000)
    assert len(by_task) == 3_333 and {line.task_run_id for line in by_task} == {logged["load"]}
    errors = logs.read_logs(
        session, flow_run_id=logged["flow_run"], min_level="ERROR", limit=10_000
    )
    assert len(errors) == 2_500 and {line.level for line in errors} == {logging.ERROR}
    warnings_up = logs.read_logs(
        session, flow_run_id=logged["flow_run"], min_level=30, limit=10_000
    )
    assert len(warnings_up) == 5_000


def test_text_search_is_case_insensitive_and_literal(
    session: Session, logged: dict[str, str]
) -> None:
    found = logs.read_logs(session, flow_run_id=logged["flow_run"], text="LOSS=0.0042")
    assert [line.message for line in found] == ["step 42 loss=0.0042"]
    percent = logs.read_logs(session, flow_run_id=logged["flow_run"], text="100% done")
    assert len(percent) == 10
    # "%" and "_" are literal, not wildcards
    assert logs.read_logs(session, flow_run_id=logged["flow_run"], text="step_1") == []
    assert logs.read_logs(session, flow_run_id=logged["flow_run"], text="%") != []
    assert logs.read_logs(session, flow_run_id=logged["flow_run"], text="0%D") == []


def test_keyset_pages_cover_every_line_once(session: Session, logged: dict[str, str]) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        page = logs.read_logs(
            session, flow_run_id=logged["flow_run"], min_level="ERROR", after=cursor, limit=700
        )
        if not page:
            break
        seen.extend(line.id for line in page)
        cursor = (page[-1].timestamp, page[-1].id)
    assert len(seen) == len(set(seen)) == 2_500


def test_newest_first_for_a_tail(session: Session, logged: dict[str, str]) -> None:
    tail = logs.read_logs(session, flow_run_id=logged["flow_run"], descending=True, limit=3)
    assert [line.message for line in tail] == [
        "step 9999 loss=0.9999",
        "step 9998 loss=0.9998",
        "step 9997 loss=0.9997",
    ]
    before = logs.read_logs(
        session,
        flow_run_id=logged["flow_run"],
        descending=True,
        after=(tail[-1].timestamp, tail[-1].id),
        limit=1,
    )
    assert before[0].message == "step 9996 loss=0.9996"
    offset_page = logs.read_logs(session, flow_run_id=logged["flow_run"], offset=9_998)
    assert len(offset_page) == 2


def test_lines_with_equal_timestamps_keep_insertion_order(session: Session) -> None:
    run = make_run(session)
    logs.insert_logs(session, [log_row(run.id, str(i)) for i in range(5)])
    first = logs.read_logs(session, flow_run_id=run.id, limit=2)
    rest = logs.read_logs(session, flow_run_id=run.id, after=(first[-1].timestamp, first[-1].id))
    assert [line.message for line in first + rest] == ["0", "1", "2", "3", "4"]


def test_timestamps_in_any_zone_are_stored_in_utc(session: Session) -> None:
    run = make_run(session)
    india = timezone(timedelta(hours=5, minutes=30))
    logs.insert_logs(
        session,
        [
            log_row(run.id, "z", T0.replace(microsecond=5)),
            log_row(run.id, "o", datetime(2026, 1, 1, 17, 30, 0, 5, tzinfo=india), level=30),
        ],
    )
    session.commit()
    lines = logs.read_logs(session, flow_run_id=run.id)
    stamp = T0.replace(microsecond=5)
    assert [(line.timestamp, line.level) for line in lines] == [(stamp, 20), (stamp, 30)]
    # equal to the value a query binds: the keyset cursor finds the second line after the first
    after = logs.read_logs(session, flow_run_id=run.id, after=(stamp, lines[0].id))
    assert [line.message for line in after] == ["o"]


def test_retention(session: Session, logged: dict[str, str]) -> None:
    deleted = logs.delete_logs_before(session, T0 + timedelta(milliseconds=9_000))
    assert deleted == 9_000
    assert session.query(LogLine).count() == 1_000


def test_client_ids_make_a_resent_batch_insert_nothing_twice(session: Session) -> None:
    run = make_run(session)
    batch = [log_row(run.id, f"line {i}", client_id=f"c{i}") for i in range(5)]

    def stored(rows: list[LogRow]) -> list[str]:
        return [row[5] for row in logs.insert_logs(session, rows)]

    assert stored(batch[:3]) == ["line 0", "line 1", "line 2"]
    session.commit()
    assert stored(batch) == ["line 3", "line 4"]  # c0..c2 were stored already
    assert stored(batch) == []
    unnamed = log_row(run.id, "line 0")
    assert stored([*batch, unnamed, unnamed]) == ["line 0", "line 0"]  # no client id: stored
    session.commit()
    messages = [line.message for line in logs.read_logs(session, flow_run_id=run.id)]
    assert sorted(messages) == ["line 0"] * 3 + ["line 1", "line 2", "line 3", "line 4"]


def test_a_client_id_twice_in_one_batch_is_stored_once(session: Session) -> None:
    run = make_run(session)
    twice = [log_row(run.id, "first", client_id="c"), log_row(run.id, "again", client_id="c")]
    assert [row[5] for row in logs.insert_logs(session, twice)] == ["first"]
    assert logs.insert_logs(session, twice) == []
    session.commit()
    assert [line.message for line in logs.read_logs(session, flow_run_id=run.id)] == ["first"]


def test_a_line_of_an_unknown_run_is_refused_by_the_database(session: Session) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        logs.insert_logs(session, [log_row("no-such-run", "x")])
