"""Column types and small helpers shared by the models and the query modules.

Both dialects must behave the same to callers: datetimes come back timezone-aware in UTC
(SQLite stores naive text, so the type adds the zone back), JSON is JSONB on PostgreSQL and
JSON text on SQLite, and "the tags contain all of these" compiles to each dialect's idiom.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from jupyter_flows.engine.ids import new_id as _new_id

UTC = timezone.utc

#: Portable JSON: JSONB on PostgreSQL (indexable, `@>`), JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A new id as a string: the engine's time-ordered UUIDv7 (``engine/ids.py``), so the
    server's ids sort as the clients' do and index inserts stay at the index's end."""
    return _new_id()


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect.

    Naive datetimes are refused on the way in: a naive value is a bug that would otherwise be
    read as local time somewhere and as UTC elsewhere.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Stored as fixed-format text, so every value must be in one zone to sort right.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_contains_all(column: Any, items: Sequence[str], dialect_name: str) -> ColumnElement[bool]:
    """SQL for "the JSON list in ``column`` holds every one of ``items``" (true if none)."""
    if not items:
        return sa.true()
    if dialect_name == "postgresql":
        wanted = sa.cast(sa.literal(json.dumps(sorted(set(items)))), JSONB)
        contains: ColumnElement[bool] = column.op("@>")(wanted)
        return contains
    clauses = []
    for item in sorted(set(items)):
        each = sa.func.json_each(column).table_valued("value")
        clauses.append(sa.exists(sa.select(1).select_from(each).where(each.c.value == item)))
    return sa.and_(*clauses)


def dialect_insert(session: Session, model: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT … DO NOTHING`` support for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
