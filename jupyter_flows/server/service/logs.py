"""Log lines: bulk writes (idempotent on the client's line ids) and filtered reads.

Writes go straight to one ``INSERT … ON CONFLICT (client_id) DO NOTHING`` executed once for
the whole batch: this is the hot path of every flow run's reporter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.server.errors import InvalidInput, NotFound
from jupyter_flows.server.models import CreateLog
from jupyter_flows.server.service import page
from jupyter_flows.server.service.events import emit, log_message
from jupyter_flows.server.service.runs import Rejections
from jupyter_flows.store import logs as store_logs
from jupyter_flows.store import run_queries
from jupyter_flows.store.models import FlowRun, LogLine, TaskRun
from jupyter_flows.store.types import dialect_insert, new_id

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}
MAX_LEVEL = 1000
_CHUNK = 5000  # ids per IN (...) query: well under SQLite's bound parameter limit
UTC = timezone.utc


def level_number(level: int | str) -> int:
    """A level number (0 … 1000, as ``logging`` numbers them) from a number or a name."""
    if isinstance(level, str):
        name = level.upper()
        if name in _LEVELS:
            return _LEVELS[name]
        try:
            level = int(level)
        except ValueError:
            raise InvalidInput(f"unknown log level {level!r}") from None
    if not 0 <= level <= MAX_LEVEL:
        raise InvalidInput(f"a log level is a number from 0 to {MAX_LEVEL} or a name")
    return level


def log_out(line: LogLine) -> dict[str, Any]:
    return {
        "id": line.client_id or str(line.id),
        "flow_run_id": line.flow_run_id,
        "task_run_id": line.task_run_id,
        "level": line.level,
        "timestamp": line.timestamp.isoformat(),
        "message": line.message,
        "name": line.name,
    }


def _row_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["client_id"],
        "flow_run_id": row["flow_run_id"],
        "task_run_id": row["task_run_id"],
        "level": row["level"],
        "timestamp": row["timestamp"].isoformat(),
        "message": row["message"],
        "name": row["name"],
    }


def _in_chunks(session: Session, query: Any, column: Any, values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for start in range(0, len(values), _CHUNK):
        out.extend(session.execute(query.where(column.in_(values[start : start + _CHUNK]))))
    return out


def insert_logs(
    session: Session, lines: Sequence[CreateLog], rejections: Rejections | None = None
) -> int:
    """Insert ``lines``; return how many were new.

    A line whose id was seen before is skipped. A line naming an unknown run is listed in
    ``rejections`` (or, without it, refused with the whole batch: 404).
    """
    if not lines:
        return 0

    run_ids = sorted({line.flow_run_id for line in lines})
    group_of = {
        run_id: group_id
        for run_id, group_id in _in_chunks(
            session, sa.select(FlowRun.id, FlowRun.flow_group_id), FlowRun.id, run_ids
        )
    }
    task_ids = sorted({line.task_run_id for line in lines if line.task_run_id})
    task_run_of = (
        dict(_in_chunks(session, sa.select(TaskRun.id, TaskRun.flow_run_id), TaskRun.id, task_ids))
        if task_ids
        else {}
    )
    sqlite = session.get_bind().dialect.name == "sqlite"
    # On SQLite the insert itself skips known ids and counts what it stored (the hot path);
    # elsewhere the ids already stored are looked up first.
    client_ids = [] if sqlite else sorted({line.id for line in lines if line.id})
    seen = (
        {
            row[0]
            for row in _in_chunks(
                session, sa.select(LogLine.client_id), LogLine.client_id, client_ids
            )
        }
        if client_ids
        else set()
    )
    rows = []
    for index, line in enumerate(lines):
        if line.id is not None:
            if line.id in seen:
                continue
            seen.add(line.id)
        error = None
        if line.flow_run_id not in group_of:
            error = f"No flow run {line.flow_run_id!r}"
        elif line.task_run_id and task_run_of.get(line.task_run_id) != line.flow_run_id:
            error = f"No task run {line.task_run_id!r} in flow run {line.flow_run_id!r}"
        if error is not None:
            if rejections is None:
                raise NotFound(error)
            rejections.add(index, "not_found", error)
            continue
        rows.append(
            {
                "client_id": line.id or new_id(),
                "flow_run_id": line.flow_run_id,
                "task_run_id": line.task_run_id,
                "level": level_number(line.level),
                "name": line.name,
                "message": line.message,
                "timestamp": line.timestamp.astimezone(UTC),
            }
        )
    if not rows:
        return 0
    if sqlite:
        stored = _insert_sqlite(session, rows)
        if stored != len(rows):
            return stored  # part of a resent batch: its lines were announced the first time
    else:
        stmt = dialect_insert(session, LogLine).on_conflict_do_nothing(index_elements=["client_id"])
        session.execute(stmt, rows)

    def messages() -> list[Any]:
        return [log_message(_row_out(row), group_of.get(row["flow_run_id"])) for row in rows]

    emit(session, messages)
    return len(rows)


_SQLITE_INSERT = (
    "INSERT INTO log_lines (client_id, flow_run_id, task_run_id, level, name, message, timestamp)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO NOTHING"
)


def _insert_sqlite(session: Session, rows: list[dict[str, Any]]) -> int:
    """The hot path on SQLite: one executemany of plain tuples, no per-value type hooks.

    Timestamps are written exactly as the store's ``UTCDateTime`` writes them on SQLite
    (naive UTC text with microseconds), so they sort and read back the same.
    """
    params = [
        (
            r["client_id"],
            r["flow_run_id"],
            r["task_run_id"],
            r["level"],
            r["name"],
            r["message"],
            r["timestamp"].strftime("%Y-%m-%d %H:%M:%S.%f"),
        )
        for r in rows
    ]
    dbapi = session.connection().connection.dbapi_connection
    before = dbapi.total_changes  # type: ignore[union-attr]
    session.connection().exec_driver_sql(_SQLITE_INSERT, params)
    return int(dbapi.total_changes - before)  # type: ignore[union-attr]


def read_logs(
    session: Session,
    *,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    level: int | str | None = None,
    q: str | None = None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    if flow_run_id is not None:
        run_queries.read_flow_run(session, flow_run_id)
    min_level = level_number(level) if level is not None else None
    lines = store_logs.read_logs(
        session,
        flow_run_id=flow_run_id,
        task_run_id=task_run_id,
        min_level=min_level,
        text=q,
        limit=limit,
        offset=offset,
    )
    count = sa.select(sa.func.count()).select_from(LogLine)
    if flow_run_id is not None:
        count = count.where(LogLine.flow_run_id == flow_run_id)
    if task_run_id is not None:
        count = count.where(LogLine.task_run_id == task_run_id)
    if min_level is not None:
        count = count.where(LogLine.level >= min_level)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        count = count.where(LogLine.message.ilike(f"%{escaped}%", escape="\\"))
    total = int(session.scalar(count) or 0)
    return page([log_out(line) for line in lines], total, limit, offset)


#: A download is read in chunks of this many lines, each in its own short transaction.
DOWNLOAD_CHUNK = 5000
Cursor = tuple[datetime, int] | None


def download_chunk(
    session: Session, flow_run_id: str, fmt: str, after: Cursor
) -> tuple[str, Cursor]:
    """The next chunk of a run's whole log as text or JSON lines, and the cursor after it."""
    if after is None:
        run_queries.read_flow_run(session, flow_run_id)
    lines = store_logs.read_logs(
        session, flow_run_id=flow_run_id, after=after, limit=DOWNLOAD_CHUNK
    )
    if not lines:
        return "", None
    if fmt == "jsonl":
        text = "".join(json.dumps(log_out(line)) + "\n" for line in lines)
    else:
        text = "".join(
            f"{line.timestamp.isoformat()} {logging.getLevelName(line.level):<8} "
            f"{line.name or '-'} | {line.message}\n"
            for line in lines
        )
    return text, (lines[-1].timestamp, lines[-1].id)
