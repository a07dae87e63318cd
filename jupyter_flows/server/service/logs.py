"""Log lines: bulk writes (idempotent on the client's line ids) and filtered reads.

Writes go to the store's bulk insert (``store.logs.insert_logs``: one statement or COPY for
the whole batch, lines whose client id is stored already skipped): this is the hot path of
every flow run's reporter.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jupyter_flows.server.errors import InvalidInput, NotFound
from jupyter_flows.server.event_bus import emit, log_message
from jupyter_flows.server.service import page
from jupyter_flows.server.service.runs import Rejections
from jupyter_flows.store import logs as store_logs
from jupyter_flows.store import run_queries
from jupyter_flows.store.logs import LogRow
from jupyter_flows.store.models import FlowRun, LogLine, TaskRun
from jupyter_flows.store.types import new_id

if TYPE_CHECKING:
    from jupyter_flows.server.wire import CreateLog

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}
MAX_LEVEL = 1000
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


def _row_out(row: LogRow) -> dict[str, Any]:
    client_id, flow_run_id, task_run_id, level, name, message, timestamp = row
    return {
        "id": client_id,
        "flow_run_id": flow_run_id,
        "task_run_id": task_run_id,
        "level": level,
        "timestamp": timestamp.astimezone(UTC).isoformat(),
        "message": message,
        "name": name,
    }


def insert_logs(
    session: Session, lines: Sequence[CreateLog], rejections: Rejections | None = None
) -> int:
    """Insert ``lines``; return how many were new.

    A line whose id was seen before is skipped. A line naming an unknown run is listed in
    ``rejections`` (or, without it, refused with the whole batch: 404). The lines stored
    now, and only those, are announced on the event stream.
    """
    if not lines:
        return 0

    run_ids = sorted({line.flow_run_id for line in lines})
    groups = sa.select(FlowRun.id, FlowRun.flow_group_id)
    group_of = dict(run_queries.rows_in(session, groups, FlowRun.id, run_ids))
    task_ids = sorted({line.task_run_id for line in lines if line.task_run_id})
    parents = sa.select(TaskRun.id, TaskRun.flow_run_id)
    task_run_of = dict(run_queries.rows_in(session, parents, TaskRun.id, task_ids))
    rows: list[LogRow] = []
    for index, line in enumerate(lines):
        flow_run_id, task_run_id, level = line.flow_run_id, line.task_run_id, line.level
        if flow_run_id not in group_of or (
            task_run_id and task_run_of.get(task_run_id) != flow_run_id
        ):
            _refuse(index, line, flow_run_id in group_of, rejections)
            continue
        rows.append(
            (
                line.id or new_id(),
                flow_run_id,
                task_run_id,
                level if type(level) is int else level_number(level),
                line.name,
                line.message,
                line.timestamp,
            )
        )
    stored = store_logs.insert_logs(session, rows)
    if stored:

        def messages() -> list[Any]:
            return [log_message(_row_out(row), group_of.get(row[1])) for row in stored]

        emit(session, messages)
    return len(stored)


def _refuse(index: int, line: CreateLog, run_known: bool, rejections: Rejections | None) -> None:
    if run_known:
        error = f"No task run {line.task_run_id!r} in flow run {line.flow_run_id!r}"
    else:
        error = f"No flow run {line.flow_run_id!r}"
    if rejections is None:
        raise NotFound(error)
    rejections.add(index, "not_found", error)


def encode_cursor(line: LogLine) -> str:
    """An opaque page cursor: the (timestamp, id) of the last line given."""
    raw = f"{line.timestamp.astimezone(UTC).isoformat()}|{line.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> store_logs.LogCursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, line_id = raw.rpartition("|")
        return datetime.fromisoformat(stamp), int(line_id)
    except ValueError:
        raise InvalidInput(f"not a log cursor: {cursor!r}") from None


def parse_sources(value: str | None) -> list[str] | None:
    """``flow,task`` → the sources a read keeps (None: all)."""
    names = [n.strip().lower() for n in (value or "").split(",") if n.strip()]
    for name in names:
        if name not in store_logs.LOG_SOURCES:
            known = ", ".join(store_logs.LOG_SOURCES)
            raise InvalidInput(f"source must be among {known}; got {name!r}")
    return names or None


def read_logs(
    session: Session,
    *,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    level: int | str | None = None,
    q: str | None = None,
    source: str | None = None,
    cursor: str | None = None,
    tail: bool = False,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A page of lines with the total the filter selects. ``next_cursor`` points after
    the page's last line (null for an empty page): given back as ``cursor``, the next page
    starts there, which stays right while new lines arrive (a view following a live run
    asks again with the same cursor until lines come).

    ``tail``: the last ``limit`` lines (oldest first), read newest first from the index
    rather than skipped over by offset, so the end of a long log comes as fast as its
    start; the answer's ``offset`` says where they sit."""
    if flow_run_id is not None:
        run_queries.read_flow_run(session, flow_run_id)
    filters: dict[str, Any] = {
        "flow_run_id": flow_run_id,
        "task_run_id": task_run_id,
        "min_level": level_number(level) if level is not None else None,
        "text": q,
        "sources": parse_sources(source),
    }
    after = decode_cursor(cursor) if cursor else None
    if tail:
        if cursor or offset:
            raise InvalidInput("tail reads the end of the log: give no cursor or offset")
        newest = store_logs.read_logs(session, **filters, descending=True, limit=limit)
        lines = newest[::-1]
        total = store_logs.count_logs(session, **filters)
        offset = total - len(lines)
        result = page([log_out(line) for line in lines], total, limit, offset)
        result["next_cursor"] = encode_cursor(lines[-1]) if lines else None
        return result
    lines = store_logs.read_logs(session, **filters, after=after, limit=limit, offset=offset)
    total = store_logs.count_logs(session, **filters)
    result = page([log_out(line) for line in lines], total, limit, offset)
    result["next_cursor"] = encode_cursor(lines[-1]) if lines else None
    return result


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
