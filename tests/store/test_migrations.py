"""Migrations: an empty database, and one at any earlier revision, reach head on open."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from jupyter_flows.store import Database, run_queries
from jupyter_flows.store.db import head_revision
from jupyter_flows.store.models import Base

#: The initial revision: the oldest database a user can have.
INITIAL = "0001"


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def _indexes(db: Database, table: str) -> set[str]:
    return {ix["name"] for ix in sa.inspect(db.engine).get_indexes(table) if ix["name"]}


def test_opening_an_empty_database_migrates_it_to_head(empty_db_url: str) -> None:
    with Database(empty_db_url) as db:
        assert db.current_revision() == head_revision()
        assert set(Base.metadata.tables) <= _tables(db)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            # The models and the migrations describe the same schema.
            assert compare_metadata(context, Base.metadata) == []


def test_upgrade_from_the_initial_revision_keeps_data(empty_db_url: str) -> None:
    with Database(empty_db_url, upgrade=False) as old:
        old.upgrade(INITIAL)
        assert old.current_revision() == INITIAL
        assert "ix_flow_runs_claim" not in _indexes(old, "flow_runs")
        now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        with old.engine.begin() as conn:  # rows as revision 0001 knew them
            conn.execute(
                sa.text(
                    "INSERT INTO flow_groups (id, project, name, created, updated)"
                    " VALUES ('g1', 'default', 'etl', :now, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO flow_runs (id, name, flow_group_id, parameters, tags, retries,"
                    " retry_delay_seconds, state_type, state_name, state_seq, total_run_time,"
                    " run_count, created, updated) VALUES ('r1', 'old run', 'g1', '{}', '[]', 0,"
                    " 0, 'SCHEDULED', 'Scheduled', 1, 0, 0, :now, :now)"
                ),
                {"now": now},
            )

    with Database(empty_db_url) as db:  # opening applies what is missing
        assert db.current_revision() == head_revision()
        assert "ix_flow_runs_claim" in _indexes(db, "flow_runs")
        with db.session() as s:
            assert run_queries.read_flow_run(s, "r1").name == "old run"


def test_downgrade_and_upgrade_again(empty_db_url: str) -> None:
    with Database(empty_db_url) as db:
        from alembic import command

        from jupyter_flows.store.db import alembic_config

        cfg = alembic_config()
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, INITIAL)
        assert db.current_revision() == INITIAL
        db.upgrade()
        assert db.current_revision() == head_revision()


def test_opening_at_head_changes_nothing(db_url: str) -> None:
    with Database(db_url) as db:
        assert db.current_revision() == head_revision()


def test_concurrent_openers_upgrade_once(empty_db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6, timeout=60)

    def open_db() -> None:
        try:
            barrier.wait()
            Database(empty_db_url).dispose()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_db) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Database(empty_db_url, upgrade=False) as db:
        assert db.current_revision() == head_revision()


def test_openers_of_a_new_sqlite_file_wait_for_each_other(tmp_path) -> None:
    """The race above, on new SQLite files, many times: switching a file to WAL while
    another connection holds it answered "database is locked" at once (in about one
    round in five), where opening must wait."""
    for round_ in range(20):
        url = f"sqlite:///{tmp_path / f'new-{round_}.db'}"
        errors: list[BaseException] = []
        barrier = threading.Barrier(3, timeout=60)

        def open_db(
            url: str = url,
            errors: list[BaseException] = errors,
            barrier: threading.Barrier = barrier,
        ) -> None:
            try:
                barrier.wait()
                Database(url).dispose()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_db) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], f"round {round_}"


def _revisions() -> list[str]:
    """Every revision, oldest first (asserting the chain has one root and one head)."""
    from alembic.script import ScriptDirectory

    from jupyter_flows.store.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "migrations must form one line, not branches"
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_revision_chain_is_linear_from_0001() -> None:
    chain = _revisions()
    assert chain[0] == INITIAL and chain[-1] == head_revision() and len(chain) >= 2


@pytest.mark.parametrize("start", _revisions()[:-1])
def test_every_revision_upgrades_to_head(empty_db_url: str, start: str) -> None:
    with Database(empty_db_url, upgrade=False) as db:
        db.upgrade(start)
        assert db.current_revision() == start
        db.upgrade()
        assert db.current_revision() == head_revision()


def test_a_database_from_a_newer_version_is_refused_untouched(db_url: str) -> None:
    from jupyter_flows.store import StoreError

    with Database(db_url, upgrade=False) as db, db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="newer jupyter-flows"):
        Database(db_url)
    with Database(db_url, upgrade=False) as db:
        assert db.current_revision() == "9999"


def test_head_revision_constant_matches_the_migrations_folder() -> None:
    """A new migration must move HEAD_REVISION too, or databases would not be upgraded."""
    from jupyter_flows.store.db import HEAD_REVISION

    assert head_revision() == HEAD_REVISION


def test_opening_an_up_to_date_database_loads_no_alembic(tmp_path) -> None:
    """A server start pays for Alembic only when there is something to migrate."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'flows.db'}"
    code = (
        "import sys\n"
        "from jupyter_flows.store.db import Database\n"
        f"Database({url!r}).dispose()\n"
        "first = 'alembic' in sys.modules\n"
        "for name in [m for m in sys.modules if m.startswith('alembic')]:\n"
        "    del sys.modules[name]\n"
        f"Database({url!r}).dispose()\n"
        "print(first, 'alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["True", "False"]
