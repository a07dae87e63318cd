"""Log lines of runs: bulk insert (thousands per call) and filtered, paginated reads."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store.errors import InvalidInput
from jupyter_flows.store.models import LogLine
from jupyter_flows.store.types import UTC

#: Keyset cursor: the (timestamp, id) of the last line of the previous page.
LogCursor = tuple[datetime, int]
MAX_LIMIT = 10_000
_LEVEL_NAMES = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}

#: One line to insert: ``(client_id, flow_run_id, task_run_id, level, name, message,
#: timestamp)``, the level a number, the timestamp timezone-aware. A plain tuple, since a
#: batch holds thousands of them.
LogRow = tuple[str | None, str, str | None, int, str, str, datetime]

_COLUMNS = "client_id, flow_run_id, task_run_id, level, name, message, timestamp"
_SKIP_KNOWN = " ON CONFLICT (client_id) DO NOTHING"
#: Rows per SQLite statement at most (a power of two; fewer where the build allows fewer
#: than 7 × 512 bound values).
_SQLITE_ROWS = 512
#: PostgreSQL, the usual case: COPY (binary) straight into the table.
_COPY_POSTGRESQL = f"COPY log_lines ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["varchar", "varchar", "varchar", "int2", "varchar", "text", "timestamptz"]
#: PostgreSQL when COPY met a line already stored: one INSERT of the columns as arrays.
_INSERT_POSTGRESQL = (
    f"INSERT INTO log_lines ({_COLUMNS}) SELECT * FROM unnest(%b::varchar[], %b::varchar[],"
    " %b::varchar[], %b::int2[], %b::varchar[], %b::text[], %b::timestamptz[])"
    + _SKIP_KNOWN
    + " RETURNING client_id"
)


def insert_logs(session: Session, rows: Sequence[LogRow]) -> Sequence[LogRow]:
    """Insert log lines; return those stored (``rows`` itself when all were new).

    A line whose ``client_id`` is already stored (or comes earlier in ``rows``) is skipped,
    so a resent batch inserts nothing twice; lines without a ``client_id`` are always
    stored. Runs and task runs must exist (foreign keys).

    This is the hot path of every run's reporter, so each dialect gets what is fastest for
    it, with no per-value type hooks. SQLite: multi-row ``INSERT … ON CONFLICT DO NOTHING``
    statements of up to 512 rows (one call into SQLite each, where ``executemany`` would
    make one per row and hand the GIL over at each). PostgreSQL: a binary ``COPY``, since
    COPY costs both sides least (``ON CONFLICT`` alone adds a quarter to PostgreSQL's work
    per row). Both run in a savepoint, since a batch is new but when a reporter resends it:
    if a line was stored already, the savepoint is rolled back and the batch inserted again
    with ``RETURNING``, which tells the lines stored now from those stored before.
    """
    if not rows:
        return rows
    conn = session.connection()
    sqlite = conn.dialect.name == "sqlite"
    try:
        with conn.begin_nested():
            if not (_insert_sqlite(conn, rows) if sqlite else _copy_postgresql(conn, rows)):
                raise _Resent
        return rows
    except _Resent:
        pass
    new = set(_insert_returning_sqlite(conn, rows) if sqlite else _insert_postgresql(conn, rows))
    stored = []
    for row in rows:
        client_id = row[0]
        if client_id is None:
            stored.append(row)
        elif client_id in new:
            new.discard(client_id)  # once: an id twice in the batch was stored once
            stored.append(row)
    return stored


class _Resent(Exception):
    """A batch met lines stored before: roll back its savepoint."""


def _sqlite_values(rows: Sequence[LogRow]) -> list[Any]:
    # Timestamps as the store's UTCDateTime writes them on SQLite: naive UTC text with
    # microseconds (so they sort, and equal what a query binds for the same time).
    values: list[Any] = []
    extend = values.extend
    for client_id, flow_run_id, task_run_id, level, name, message, timestamp in rows:
        stamp = timestamp.astimezone(UTC).isoformat(" ", "microseconds")[:26]
        extend((client_id, flow_run_id, task_run_id, level, name, message, stamp))
    return values


def _sqlite_inserts(conn: sa.Connection, rows: Sequence[LogRow], returning: bool) -> list[Any]:
    """Insert ``rows`` in multi-row statements; with ``returning``, the client ids stored."""
    values = _sqlite_values(rows)
    most = _sqlite_rows_per_statement(conn.connection.dbapi_connection)
    suffix = " RETURNING client_id" if returning else ""
    stored: list[Any] = []
    start, left = 0, len(rows)
    while left:
        # Statements of power-of-two sizes: few distinct ones for SQLite to prepare and the
        # driver to cache, whatever the batch sizes.
        size = most if left >= most else 1 << (left.bit_length() - 1)
        result = conn.exec_driver_sql(
            _sqlite_insert(size) + suffix, tuple(values[start * 7 : (start + size) * 7])
        )
        if returning:
            stored.extend(result.scalars())
        start, left = start + size, left - size
    return stored


def _insert_sqlite(conn: sa.Connection, rows: Sequence[LogRow]) -> bool:
    """Insert ``rows``; True if every one was new."""
    dbapi: Any = conn.connection.dbapi_connection
    before = dbapi.total_changes
    _sqlite_inserts(conn, rows, returning=False)
    return int(dbapi.total_changes - before) == len(rows)


def _insert_returning_sqlite(conn: sa.Connection, rows: Sequence[LogRow]) -> list[str | None]:
    return _sqlite_inserts(conn, rows, returning=True)


@functools.cache
def _sqlite_insert(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return f"INSERT INTO log_lines ({_COLUMNS}) VALUES {values}{_SKIP_KNOWN}"


def _sqlite_rows_per_statement(dbapi: Any) -> int:
    try:
        bound = int(dbapi.getlimit(9))  # SQLITE_LIMIT_VARIABLE_NUMBER (Python 3.11+)
    except AttributeError:
        bound = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
    return min(_SQLITE_ROWS, 1 << ((bound // 7).bit_length() - 1))


def _copy_postgresql(conn: sa.Connection, rows: Sequence[LogRow]) -> bool:
    """COPY ``rows`` in; False if a line was stored already (or another refusal, which the
    INSERT that follows reports)."""
    import psycopg

    dbapi: Any = conn.connection.dbapi_connection
    try:
        with dbapi.cursor() as cursor, cursor.copy(_COPY_POSTGRESQL) as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)
    except psycopg.Error:
        return False
    return True


def _insert_postgresql(conn: sa.Connection, rows: Sequence[LogRow]) -> list[str | None]:
    columns = tuple(list(column) for column in zip(*rows, strict=True))
    return list(conn.exec_driver_sql(_INSERT_POSTGRESQL, columns).scalars())


#: Where a run's line came from, told by its logger name and task run (the view's filter).
LOG_SOURCES = ("flow", "task", "agent", "job")
JOB_LOGGER = "jupyter_flows.job"
AGENT_LOGGER = "jupyter_flows.agent"


def _source_clause(source: str) -> sa.ColumnElement[bool]:
    job = LogLine.name == JOB_LOGGER
    agent = sa.or_(LogLine.name == AGENT_LOGGER, LogLine.name.like(f"{AGENT_LOGGER}.%"))
    if source == "job":
        return job
    if source == "agent":
        return agent
    if source == "task":
        return sa.and_(LogLine.task_run_id.is_not(None), sa.not_(job), sa.not_(agent))
    if source == "flow":
        return sa.and_(LogLine.task_run_id.is_(None), sa.not_(job), sa.not_(agent))
    raise InvalidInput(f"a log source is one of {', '.join(LOG_SOURCES)}, not {source!r}")


def log_filter(
    *,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    min_level: int | str | None = None,
    text: str | None = None,
    sources: Sequence[str] | None = None,
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a filtered read, shared by ``read_logs`` and ``count_logs``."""
    where: list[sa.ColumnElement[bool]] = []
    if flow_run_id is not None:
        where.append(LogLine.flow_run_id == flow_run_id)
    if task_run_id is not None:
        where.append(LogLine.task_run_id == task_run_id)
    if min_level is not None:
        where.append(LogLine.level >= _level(min_level))
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(LogLine.message.ilike(f"%{escaped}%", escape="\\"))
    if sources:
        where.append(sa.or_(*(_source_clause(s) for s in sources)))
    return where


def count_logs(session: Session, **filters: Any) -> int:
    """How many lines ``log_filter(**filters)`` selects."""
    query = sa.select(sa.func.count()).select_from(LogLine).where(*log_filter(**filters))
    return int(session.scalar(query) or 0)


def read_logs(
    session: Session,
    *,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    min_level: int | str | None = None,
    text: str | None = None,
    sources: Sequence[str] | None = None,
    after: LogCursor | None = None,
    descending: bool = False,
    limit: int = 1000,
    offset: int = 0,
) -> list[LogLine]:
    """Log lines in time order (``descending`` for newest first), filtered.

    ``text`` matches case-insensitively anywhere in the message (``%`` and ``_`` are taken
    literally); ``sources`` keeps lines of those sources (``LOG_SOURCES``). Page with
    ``offset``, or better with ``after``: the ``(timestamp, id)`` of the last line already
    seen, which stays correct while new lines arrive.
    """
    if not 0 < limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    query = sa.select(LogLine).where(
        *log_filter(
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
            min_level=min_level,
            text=text,
            sources=sources,
        )
    )
    if after is not None:
        ts, last_id = after
        if descending:
            past = sa.or_(
                LogLine.timestamp < ts, sa.and_(LogLine.timestamp == ts, LogLine.id < last_id)
            )
        else:
            past = sa.or_(
                LogLine.timestamp > ts, sa.and_(LogLine.timestamp == ts, LogLine.id > last_id)
            )
        query = query.where(past)
    if descending:
        query = query.order_by(LogLine.timestamp.desc(), LogLine.id.desc())
    else:
        query = query.order_by(LogLine.timestamp.asc(), LogLine.id.asc())
    return list(session.scalars(query.limit(limit).offset(offset)))


def delete_logs_before(session: Session, cutoff: datetime) -> int:
    """Retention: delete every line older than ``cutoff``; return how many."""
    result = session.execute(sa.delete(LogLine).where(LogLine.timestamp < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _level(level: int | str) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str) and level.upper() in _LEVEL_NAMES:
        return _LEVEL_NAMES[level.upper()]
    raise InvalidInput(f"unknown log level {level!r}")
