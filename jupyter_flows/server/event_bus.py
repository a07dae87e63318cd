"""The in-process event bus behind ``GET events`` (WebSocket).

Service functions record what happened with :func:`emit` on their session; the runner
publishes those records only after the transaction committed, so a subscriber never hears
of a change that was rolled back. Every subscriber has a bounded queue: when a slow client
lets it fill up the oldest messages are dropped and the client is told how many
(``{"type": "lagged", "dropped": n}``), so memory stays bounded whatever the client does.

The bus lives on the server's IOLoop; :meth:`EventBus.publish` may be called from any
thread. Log lines are published lazily: when no one listens, a batch of 50,000 lines costs
nothing here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from jupyter_flows.engine.states import FINAL_TYPES, StateType

#: Where a session keeps the events of its transaction (``Session.info``).
EVENTS_KEY = "jupyter_flows.events"
DEFAULT_QUEUE_SIZE = 1000


@dataclass(slots=True)
class Message:
    """One message for the event stream, with the ids subscribers filter on.

    ``wake`` names a work queue where a run may have become claimable (a run Scheduled, a
    concurrency slot freed, the queue resumed): listeners such as the claim dispatcher read
    it; it is never sent to clients. An ``internal`` message goes to listeners only.
    """

    flow_id: str | None
    flow_run_id: str | None
    body: dict[str, Any]
    _text: str | None = field(default=None, repr=False)
    wake: str | None = None
    internal: bool = False

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = json.dumps(self.body)
        return self._text


#: What is published: messages, or a function making them (called only if someone listens).
Event = list[Message] | Callable[[], Iterable[Message]]
#: Called on the bus's loop with every published list of messages (lazy events excepted).
Listener = Callable[[list[Message]], None]
#: A flow run entering one of these may make a run of its queue claimable: Scheduled (due
#: now or later), or a final state (its concurrency slot is free again).
WAKE_TYPES = frozenset({StateType.SCHEDULED.value, *(t.value for t in FINAL_TYPES)})


def emit(session: Session, event: Event) -> None:
    """Record ``event`` to be published when ``session``'s transaction commits."""
    session.info.setdefault(EVENTS_KEY, []).append(event)


class Subscription:
    """One listener: its filter and its bounded queue. Used on the bus's loop only."""

    def __init__(
        self,
        bus: EventBus,
        *,
        flow_id: str | None = None,
        flow_run_id: str | None = None,
        max_queue: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        self.bus = bus
        self.flow_id = flow_id
        self.flow_run_id = flow_run_id
        self.queue: deque[Message] = deque(maxlen=max_queue)
        self.dropped = 0
        self.closed = False
        self._ready = asyncio.Event()

    def matches(self, message: Message) -> bool:
        if self.flow_id is not None and message.flow_id != self.flow_id:
            return False
        return self.flow_run_id is None or message.flow_run_id == self.flow_run_id

    def offer(self, message: Message) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1  # the deque drops the oldest as the new one goes in
        self.queue.append(message)
        self._ready.set()

    async def get(self) -> str | None:
        """The next message's JSON text; None once the subscription is closed."""
        while not self.queue and not self.dropped and not self.closed:
            self._ready.clear()
            await self._ready.wait()
        if self.closed:
            return None
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            return json.dumps({"type": "lagged", "dropped": dropped})
        return self.queue.popleft().text

    def close(self) -> None:
        self.closed = True
        self._ready.set()
        self.bus.unsubscribe(self)


class EventBus:
    def __init__(self, *, max_queue: int = DEFAULT_QUEUE_SIZE) -> None:
        self.max_queue = max_queue
        self._subscribers: set[Subscription] = set()
        self._listeners: list[Listener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(
        self, *, flow_id: str | None = None, flow_run_id: str | None = None
    ) -> Subscription:
        """Listen (call on the server's loop); ``close()`` the subscription when done."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        sub = Subscription(self, flow_id=flow_id, flow_run_id=flow_run_id, max_queue=self.max_queue)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with every list of messages published (call on the bus's loop).

        Lazy events (log lines) are not given to listeners: they never wake anything.
        """
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        if self._loop is None:
            return
        if not self._subscribers and (not self._listeners or not isinstance(event, list)):
            return
        if threading.get_ident() == self._loop_thread:
            self._deliver(event)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: Event) -> None:
        if isinstance(event, list):
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:  # a listener's bug must not stop the stream
                    logging.getLogger(__name__).exception("jupyter-flows: event listener failed")
        if not self._subscribers:
            return
        messages = event if isinstance(event, list) else list(event())
        for sub in list(self._subscribers):
            for message in messages:
                if not message.internal and sub.matches(message):
                    sub.offer(message)

    def close(self) -> None:
        for sub in list(self._subscribers):
            sub.close()
        self._listeners.clear()


# ------------------------------------------------------------------ the messages


def flow_run_message(run: dict[str, Any]) -> Message:
    state = run.get("state") or {}
    wake = run.get("work_queue") if state.get("type") == "SCHEDULED" else None
    return Message(run["flow_id"], run["id"], {"type": "flow_run", "flow_run": run}, wake=wake)


def task_run_message(task_run: dict[str, Any], flow_id: str | None) -> Message:
    return Message(flow_id, task_run["flow_run_id"], {"type": "task_run", "task_run": task_run})


def state_message(
    kind: str,
    run_id: str,
    flow_run_id: str,
    flow_id: str | None,
    state: dict[str, Any],
    work_queue: str | None = None,
) -> Message:
    body = {
        "type": "state",
        "kind": kind,
        "run_id": run_id,
        "flow_run_id": flow_run_id,
        "flow_id": flow_id,
        "state": state,
    }
    wake = work_queue if kind == "flow_run" and state.get("type") in WAKE_TYPES else None
    return Message(flow_id, flow_run_id, body, wake=wake)


def queue_changed_message(name: str) -> Message:
    """Internal: work queue ``name`` was resumed or its limits changed (wakes its claims)."""
    return Message(None, None, {"type": "work_queue", "name": name}, wake=name, internal=True)


def log_message(line: dict[str, Any], flow_id: str | None) -> Message:
    return Message(flow_id, line["flow_run_id"], {"type": "log", "log": line})
