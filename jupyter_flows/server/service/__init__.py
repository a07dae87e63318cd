"""The business rules of the REST API: plain functions taking a store session.

No tornado here: each module (one per resource) turns wire models (``server.wire``) into
store calls and store rows into JSON-ready dicts, and raises the errors of
``server.errors`` or the store's. The handlers call them through
:class:`~jupyter_flows.server.transactions.TransactionRunner` (one transaction per call);
events they record with ``server.event_bus.emit`` are published after the commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: Lists take ``limit`` (default 50, at most 500) and ``offset``.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}
