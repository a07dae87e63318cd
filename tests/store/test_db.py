"""The Database object: where it lives, how SQLite is set up, and what comes back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.engine.run_env import DB_URL
from jupyter_flows.store import Database, default_url
from jupyter_flows.store.db import normalize_url
from jupyter_flows.store.models import FlowRun
from tests.store.factories import make_run

IST = timezone(timedelta(hours=5, minutes=30))


def test_default_is_a_sqlite_file_in_the_jupyter_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DB_URL, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    assert default_url() == f"sqlite:///{tmp_path / 'data' / 'jupyter_flows' / 'flows.db'}"
    with Database() as db:
        assert db.is_sqlite
    assert (tmp_path / "data" / "jupyter_flows" / "flows.db").is_file()


def test_env_var_overrides_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_URL, f"sqlite:///{tmp_path / 'other.db'}")
    with Database(upgrade=False) as db:
        assert db.url.database == str(tmp_path / "other.db")


def test_plain_postgresql_urls_use_psycopg() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"


def test_sqlite_pragmas(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'f.db'}", upgrade=False)
    with db, db.engine.connect() as conn:
        pragma = conn.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 30_000


def test_in_memory_sqlite_is_one_shared_database() -> None:
    with Database("sqlite://") as db, db.session() as s:
        run = make_run(s)
        s.commit()
        with db.read_session() as other:
            assert other.get(FlowRun, run.id) is not None


def test_datetimes_come_back_aware_in_utc(session: Session) -> None:
    local = datetime(2026, 3, 1, 9, 30, tzinfo=IST)
    run = make_run(session, scheduled_time=local)
    session.commit()
    session.expire_all()
    loaded = session.get_one(FlowRun, run.id)
    assert loaded.expected_start_time == local
    assert loaded.expected_start_time.utcoffset() == timedelta(0)
    assert loaded.created.tzinfo is not None


def test_naive_datetimes_are_refused(session: Session) -> None:
    run = make_run(session)
    session.commit()
    run.start_time = datetime(2026, 1, 1)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        session.flush()


def test_json_round_trips(session: Session) -> None:
    params = {"n": 3, "names": ["a", "b"], "nested": {"x": 1.5, "ok": True, "none": None}}
    run = make_run(session, parameters=params, tags=["a", "b"])
    session.commit()
    session.expire_all()
    loaded = session.get_one(FlowRun, run.id)
    assert (loaded.parameters, loaded.tags) == (params, ["a", "b"])


def test_transaction_commits_or_rolls_back(db: Database) -> None:
    with db.transaction() as s:
        run_id = make_run(s).id
    with pytest.raises(RuntimeError), db.transaction() as s:
        make_run(s, name="doomed")
        raise RuntimeError
    with db.transaction(readonly=True) as s:
        ids = list(s.scalars(sa.select(FlowRun.id)))
    assert ids == [run_id]


def test_foreign_keys_are_enforced(session: Session) -> None:
    from jupyter_flows.store import runs

    with pytest.raises(sa.exc.IntegrityError):
        runs.create_flow_run(session, flow_group_id="no-such-group")
