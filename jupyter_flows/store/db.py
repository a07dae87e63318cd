"""The Database object: an engine, its sessions, and the migrations that shape it.

SQLite (the default, one file in the Jupyter data dir) and PostgreSQL (by URL) behave the
same to callers. On SQLite the store manages transactions itself: pysqlite's own
transaction handling begins transactions late and cannot ask for a write lock up front, so
``isolation_level`` is turned off and each transaction starts with an explicit ``BEGIN``.
Write sessions use ``BEGIN IMMEDIATE``: they take SQLite's write lock at the start, so a
read-then-write transaction (every state change, every claim) can never fail half-way
because another writer committed in between; they wait (``busy_timeout``) instead.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from jupyter_flows.engine.run_env import DB_URL
from jupyter_flows.store.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration's revision. Opening a database already there needs no Alembic at
#: all, which keeps alembic (and the pygments it loads) out of a server's start-up and
#: memory; a test checks this matches the migrations folder.
HEAD_REVISION = "0009"

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Key of the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_MIGRATION_LOCK = 0x6A666C6F7773  # "jflows"


def default_url() -> str:
    """``$JUPYTER_FLOWS_DB_URL``, else a SQLite file in the Jupyter data dir."""
    env = os.environ.get(DB_URL)
    if env:
        return env
    from jupyter_core.paths import jupyter_data_dir

    return f"sqlite:///{Path(jupyter_data_dir()) / 'jupyter_flows' / 'flows.db'}"


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; plain ``postgresql://`` (or ``postgres://``) means psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def alembic_config() -> Config:
    """The Alembic configuration, built in code: the package ships no alembic.ini."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class Database:
    """One database: ``Database()`` opens the default SQLite file, ``Database(url)`` any other.

    Migrations run on open unless ``upgrade=False``. Sessions are plain SQLAlchemy sessions
    (``expire_on_commit=False``, so rows stay readable after commit)::

        db = Database()
        with db.transaction() as session:
            runs.create_flow_run(session, ...)
    """

    def __init__(
        self, url: str | URL | None = None, *, upgrade: bool = True, **engine_kwargs: Any
    ) -> None:
        self.url = normalize_url(url or default_url())
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        write_engine: Engine
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, **engine_kwargs)
            write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            engine_kwargs.setdefault("pool_pre_ping", True)
            self.engine = sa.create_engine(self.url, **engine_kwargs)
            write_engine = self.engine
        self._write_engine = write_engine
        self._sessions = sessionmaker(write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        if upgrade:
            try:
                self.upgrade()
            except BaseException:
                self.engine.dispose()  # no half-open pool left behind for the GC to close
                raise

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """A session for work that writes (on SQLite it takes the write lock at BEGIN)."""
        return self._sessions()

    def read_session(self) -> Session:
        """A session for reads only: never waits for writers (SQLite WAL, PostgreSQL MVCC)."""
        return self._read_sessions()

    @contextlib.contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session in a transaction: committed if the block ends normally, else rolled back."""
        with self.read_session() if readonly else self.session() as session, session.begin():
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``; safe to call from many processes at once.

        Raises :class:`StoreError` if the database was migrated by a newer jupyter-flows
        (its revision is unknown here): the data is left alone.
        """
        if revision in ("head", HEAD_REVISION) and self._revision_now() == HEAD_REVISION:
            return
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        cfg = alembic_config()
        with self._write_engine.begin() as conn:
            if not self.is_sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            current = MigrationContext.configure(conn).get_current_revision()
            scripts = ScriptDirectory.from_config(cfg)
            if current is not None and current not in {
                s.revision for s in scripts.walk_revisions()
            }:
                raise StoreError(
                    f"the database is at schema revision {current!r}, which this version of "
                    f"jupyter-flows does not know (its newest is {scripts.get_current_head()!r}): "
                    "it was created by a newer jupyter-flows; upgrade jupyter-flows to open it"
                )
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def current_revision(self) -> str | None:
        return self._revision_now()

    def _revision_now(self) -> str | None:
        """The schema revision recorded in the database (None for an empty database)."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


def _use_wal(cursor: Any) -> None:
    """Put the file in WAL mode (a property of the file: the first connection does it).

    Switching a file to WAL needs it to itself, and SQLite answers "database is locked" at
    once instead of calling the busy handler: a server and its agent opening a new file
    together saw it. So wait here, as busy_timeout would, for the other one to finish."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_engine(url: URL, **engine_kwargs: Any) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in str(url.query)
    if in_memory:
        # One shared connection, or every connection would see its own empty database.
        # (So an in-memory store is for one thread at a time: tests, quick experiments.)
        engine_kwargs.setdefault("poolclass", StaticPool)
        engine_kwargs.setdefault("connect_args", {"check_same_thread": False})
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **engine_kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the "begin" hook below emits BEGIN itself
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not in_memory:
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
