"""Long-polled claims: an agent's claim waits until a run of its queue may be claimable.

``POST work-queues/{name}/claim`` with ``wait`` seconds tries the store's atomic claim at
once; if nothing can be claimed it *waits without a thread or a database session*: an
``asyncio`` future per waiting request, resolved when the event bus says a run of that
queue may have become claimable (a run was Scheduled, a run ended and freed a concurrency
slot, the queue was resumed or its limits changed: ``Message.wake``), or when the queue's
next Scheduled run falls due (the claim attempt reports it). Then it tries again. So a run
that becomes due is claimed within one round trip, with no fixed sleep anywhere.

Wake-ups come from this server's own event bus. Changes another server makes to a shared
database are seen at the next ``recheck`` (a bound on each wait, 10 s by default), and an
agent's ``wait`` bounds the whole request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from jupyter_flows.server.event_bus import EventBus, Message
from jupyter_flows.server.service import agents
from jupyter_flows.server.transactions import TransactionRunner
from jupyter_flows.store.leases import DEFAULT_LEASE_SECONDS
from jupyter_flows.store.types import utcnow


class Dispatcher:
    """Holds the waiting claims per queue name; lives on the server's event loop."""

    def __init__(
        self,
        runner: TransactionRunner,
        bus: EventBus,
        *,
        recheck: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.runner = runner
        self.lease_seconds = lease_seconds
        self.bus = bus
        self._listening = False
        self.recheck = recheck
        self.clock = clock
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        #: Bumped at every wake of a queue: a claim that saw no run notices that something
        #: changed while its attempt ran, and tries again instead of waiting.
        self._generation: dict[str, int] = {}

    # ---------------------------------------------------------------- wake-ups

    def listen(self, messages: list[Message]) -> None:
        """An event-bus listener: wake the queues the messages name."""
        for message in messages:
            if message.wake:
                self.wake(message.wake)

    def wake(self, queue: str) -> None:
        """Something on ``queue`` changed: every claim waiting on it tries again."""
        self._generation[queue] = self._generation.get(queue, 0) + 1
        for future in self._waiters.pop(queue, ()):
            if not future.done():
                future.set_result(None)

    def waiting(self, queue: str) -> int:
        """How many claims wait on ``queue`` now (for tests and status)."""
        return len(self._waiters.get(queue, ()))

    # ---------------------------------------------------------------- the claim

    async def claim(
        self,
        queue: str,
        agent_id: str,
        wait: float,
        *,
        gone: asyncio.Future[None] | None = None,
    ) -> dict[str, Any] | None:
        """The run claimed for ``agent_id`` within ``wait`` seconds, or None.

        ``gone`` resolves when the client hung up: waiting stops, and a run claimed in that
        moment is handed back to the queue rather than lost.
        """
        if not self._listening:  # on the bus's loop now: hear its events from here on
            self.bus.add_listener(self.listen)
            self._listening = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            generation = self._generation.get(queue, 0)
            found: agents.Claim = await self.runner(
                agents.claim, queue, agent_id, lease_seconds=self.lease_seconds
            )
            if found.run is not None:
                if gone is not None and gone.done():
                    await self.runner(
                        agents.hand_back, found.run["id"], agent_id, "the claiming agent hung up"
                    )
                    return None
                return found.run
            left = deadline - loop.time()
            if left <= 0 or (gone is not None and gone.done()):
                return None
            if self._generation.get(queue, 0) != generation:
                continue  # woken while we looked: look again
            timeout = min(left, self.recheck)
            if found.next_due is not None:
                until_due = (found.next_due - self.clock()).total_seconds()
                timeout = min(timeout, max(until_due, 0.0) + 0.005)
            await self._wait(queue, timeout, gone)

    async def _wait(self, queue: str, timeout: float, gone: asyncio.Future[None] | None) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(queue, set())
        waiters.add(future)
        watched: set[Awaitable[Any]] = {future}
        if gone is not None:
            watched.add(gone)
        try:
            await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            with contextlib.suppress(KeyError):
                self._waiters.get(queue, set()).remove(future)
            if queue in self._waiters and not self._waiters[queue]:
                del self._waiters[queue]
            if not future.done():
                future.cancel()
