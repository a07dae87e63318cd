"""How the handlers call the business rules: one transaction per call, on a thread pool.

:class:`TransactionRunner` runs a service function (``fn(session, …)``, see
``server.service``) in one store transaction and publishes the events it recorded to the
bus only after the transaction committed, so a subscriber never hears of a change that was
rolled back.

Why a thread pool rather than calling the store on the IOLoop: most calls take well under a
millisecond, but a SQLite write waits for the database's write lock (up to the store's busy
timeout) while an agent, a kernel or the scheduler holds it, and every PostgreSQL call is a
network round trip. On the IOLoop either would freeze the whole Jupyter server, UI included.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from jupyter_flows.server.event_bus import EVENTS_KEY, EventBus
from jupyter_flows.store import Database

T = TypeVar("T")


class TransactionRunner:
    """Runs service functions in a transaction on a thread pool; publishes their events."""

    def __init__(self, db: Database, bus: EventBus, *, max_workers: int = 4) -> None:
        self.db = db
        self.bus = bus
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="flows-db")

    async def __call__(
        self, fn: Callable[..., T], *args: Any, readonly: bool = False, **kwargs: Any
    ) -> T:
        loop = asyncio.get_running_loop()
        work = functools.partial(self.run_sync, fn, *args, readonly=readonly, **kwargs)
        result, events = await loop.run_in_executor(self.executor, work)
        for event in events:
            self.bus.publish(event)
        return result

    def run_sync(
        self, fn: Callable[..., T], *args: Any, readonly: bool = False, **kwargs: Any
    ) -> tuple[T, list[Any]]:
        """Call ``fn(session, …)`` in one transaction; return its result and its events."""
        with self.db.transaction(readonly=readonly) as session:
            result = fn(session, *args, **kwargs)
            events = session.info.pop(EVENTS_KEY, [])
        return result, events

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
