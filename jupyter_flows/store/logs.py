"""Log lines of runs: bulk insert (thousands per call) and filtered, paginated reads."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.store.errors import InvalidInput
from jupyter_flows.store.models import LogLine
from jupyter_flows.store.types import UTC, dialect_insert

#: Keyset cursor: the (timestamp, id) of the last line of the previous page.
LogCursor = tuple[datetime, int]
MAX_LIMIT = 10_000
_TABLE = cast(sa.Table, LogLine.__table__)
_LEVEL_NAMES = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}


def insert_logs(session: Session, lines: Iterable[Mapping[str, Any]]) -> int:
    """Insert log lines in one executemany; return how many.

    Each line: ``flow_run_id``, ``message``, ``timestamp`` (aware datetime or ISO text),
    optional ``task_run_id``, ``level`` (number or name, default INFO), ``name`` (the
    logger) and ``client_id``. Runs and task runs must exist (foreign keys).

    A line whose ``client_id`` is already stored is skipped (a resent batch inserts
    nothing twice); the count returned is of the lines actually inserted.
    """
    rows = [_row(line) for line in lines]
    if not rows:
        return 0
    if all(row["client_id"] is None for row in rows):
        session.execute(sa.insert(_TABLE), rows)
        return len(rows)
    stmt = (
        dialect_insert(session, _TABLE)
        .on_conflict_do_nothing(index_elements=["client_id"])
        .returning(_TABLE.c.id)
    )
    return len(session.execute(stmt, rows).all())


def read_logs(
    session: Session,
    *,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    min_level: int | str | None = None,
    text: str | None = None,
    after: LogCursor | None = None,
    descending: bool = False,
    limit: int = 1000,
    offset: int = 0,
) -> list[LogLine]:
    """Log lines in time order (``descending`` for newest first), filtered.

    ``text`` matches case-insensitively anywhere in the message (``%`` and ``_`` are taken
    literally). Page with ``offset``, or better with ``after``: the ``(timestamp, id)`` of
    the last line already seen, which stays correct while new lines arrive.
    """
    if not 0 < limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidInput("offset must not be negative")
    query = sa.select(LogLine)
    if flow_run_id is not None:
        query = query.where(LogLine.flow_run_id == flow_run_id)
    if task_run_id is not None:
        query = query.where(LogLine.task_run_id == task_run_id)
    if min_level is not None:
        query = query.where(LogLine.level >= _level(min_level))
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(LogLine.message.ilike(f"%{escaped}%", escape="\\"))
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


def _row(line: Mapping[str, Any]) -> dict[str, Any]:
    try:
        flow_run_id, message, timestamp = line["flow_run_id"], line["message"], line["timestamp"]
    except KeyError as exc:
        raise InvalidInput(f"a log line needs {exc.args[0]!r}") from None
    return {
        "flow_run_id": flow_run_id,
        "task_run_id": line.get("task_run_id"),
        "level": _level(line.get("level", logging.INFO)),
        "name": line.get("name") or "",
        "message": str(message),
        "timestamp": _timestamp(timestamp),
        "client_id": line.get("client_id"),
    }


def _level(level: int | str) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    if isinstance(level, str) and level.upper() in _LEVEL_NAMES:
        return _LEVEL_NAMES[level.upper()]
    raise InvalidInput(f"unknown log level {level!r}")


def _timestamp(value: datetime | str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"not an ISO timestamp: {value!r}") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput("a log line's timestamp must be timezone-aware")
    return value.astimezone(UTC)
