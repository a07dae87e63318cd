"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL.

Each test gets a clean, migrated database. Migrating is the slow part, so it happens once
per session into a template: SQLite tests copy the template file, PostgreSQL tests
``CREATE DATABASE … TEMPLATE`` it (a file copy on the server, tens of milliseconds).
The PostgreSQL server itself is the session's shared ``postgres_url`` (tests/conftest.py).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from jupyter_flows.store import Database

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
_PG_TEMPLATE = "flows_template"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store-template") / "flows.db"
    db = Database(f"sqlite:///{path}")
    with db.engine.connect() as conn:  # fold the WAL into the file before copying it
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_admin(postgres_url: str) -> Iterator[sa.Engine]:
    """An autocommit connection pool to the server's ``postgres`` database."""
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_admin: sa.Engine, postgres_url: str) -> str:
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {_PG_TEMPLATE}")
    db = Database(make_url(postgres_url).set(database=_PG_TEMPLATE))
    db.dispose()  # CREATE DATABASE … TEMPLATE needs the template to have no connections
    return _PG_TEMPLATE


def _new_pg_database(request: pytest.FixtureRequest, template: str) -> Iterator[str]:
    admin: sa.Engine = request.getfixturevalue("pg_admin")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield (
        make_url(request.getfixturevalue("postgres_url"))
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database already at the newest revision."""
    if backend == "sqlite":
        path = tmp_path / "flows.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from _new_pg_database(request, request.getfixturevalue("pg_template"))


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database with no tables at all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from _new_pg_database(request, "template0")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, upgrade=False)
    yield database
    database.dispose()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session() as s:
        yield s
