"""The delivery service: outbox events → deliveries → apprise, with retries and backoff.

One tick (``run_once``) does three things, each safe with several servers on one database
(``store/notifications.py`` says how):

1. expands the outbox's new events, in one transaction that claims them: the deliveries
   of the policies that match (``service/notifications.py`` writes the message), the
   automations that fire (``service/automations.py``), and the "still running after D"
   events of runs that passed a policy's duration;
2. claims the due deliveries (a guarded UPDATE, committed before anything is sent);
3. sends them through apprise on a small thread pool, off every request and state-change
   path, and records each attempt: sent; or retried after a backoff that doubles; or,
   after ``max_attempts``, failed. A destination that fails ``dead_after`` deliveries in
   a row is marked dead: nothing more is sent to it until a test succeeds or its URL is
   replaced; its pending deliveries fail with that reason.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from jupyter_flows.credentials import Keyring
from jupyter_flows.server.background.scheduler import Publish
from jupyter_flows.server.event_bus import EVENTS_KEY
from jupyter_flows.store import Database
from jupyter_flows.store import notifications as store
from jupyter_flows.store.models import NotificationDelivery, NotificationDestination
from jupyter_flows.store.types import new_id, utcnow

log = logging.getLogger(__name__)

#: ``send(url, title, body)``: None when delivered, else what went wrong.
Sender = Callable[[str, str, str], "str | None"]


def apprise_send(url: str, title: str, body: str) -> str | None:
    """Send one message through apprise; None if it went through, else its error."""
    import apprise

    notifier = apprise.Apprise()
    if url.split("://", 1)[0].lower() in ("mailto", "mailtos") and "format=" not in url:
        # Plain text keeps the traceback's lines (the HTML part would join them).
        url += ("&" if "?" in url else "?") + "format=text"
    if not notifier.add(url):
        return "apprise does not understand this destination's URL"
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
        ok = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        text = captured.getvalue().strip() if hasattr(captured, "getvalue") else ""
    if ok:
        return None
    return (text.splitlines()[-1] if text else "apprise could not deliver the message")[:2000]


class Notifier:
    """Delivers notifications (see the module's doc); one instance per server."""

    name = "notifications"

    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        interval: float = 0.5,
        *,
        public_url: str | None = None,
        max_attempts: int = 5,
        backoff: float = 2.0,
        max_backoff: float = 300.0,
        dead_after: int = 5,
        send_timeout: float = 30.0,
        batch_size: int = 50,
        workers: int = 4,
        sender: Sender | None = None,
        publish: Publish | None = None,
        server_id: str | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not interval > 0 or max_attempts < 1 or dead_after < 1 or backoff < 0:
            raise ValueError("interval positive; max_attempts, dead_after at least 1")
        self.db = db
        self.keyring = keyring
        self.interval = float(interval)
        self.public_url = public_url
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.dead_after = dead_after
        self.send_timeout = send_timeout
        self.batch_size = batch_size
        self.send = sender or apprise_send
        self.publish = publish
        #: Names this server in claims and attempts (a claim outliving it expires).
        self.server_id = server_id or f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"
        self.log = logger or log
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flows-notify")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ one tick

    def run_once(self, now: datetime | None = None) -> int:
        """Expand new events, then send what is due; returns how many were sent."""
        now = now or utcnow()
        self.expand(now)
        return self.deliver(now)

    def expand(self, now: datetime) -> int:
        from jupyter_flows.server.service import automations, notifications

        with self.db.read_session() as session:  # the usual tick: nothing new, no write lock
            new = store.pending_events(session)
            long_runs = automations.enqueue_long_runs(session, now, dry_run=True)
        if long_runs:
            with self.db.transaction() as session:
                new = automations.enqueue_long_runs(session, now) > 0 or new
        if not new:
            return 0
        with self.db.read_session() as session:
            rules = store.any_rules(session)
        if not rules:  # a server with no policy and no automation: one statement, not one
            with self.db.transaction() as session:  # expansion per event under the write lock
                return store.skip_events(session, now)
        expanded = 0
        while True:
            with self.db.transaction() as session:
                events = store.claim_events(session, self.batch_size)
                for event in events:
                    notifications.expand_event(session, event, now, self.public_url)
                    automations.fire(session, event, now)
                    event.processed_at = now
                # What the automations changed (a run started, a deployment paused).
                messages = session.info.pop(EVENTS_KEY, [])
            if self.publish is not None:
                for message in messages:
                    self.publish(message)
            expanded += len(events)
            if len(events) < self.batch_size:
                return expanded

    def deliver(self, now: datetime) -> int:
        with self.db.read_session() as session:
            due = store.due_deliveries(session, now, self.batch_size)
        if not due:
            return 0
        lease = timedelta(seconds=self.send_timeout * 2 + 30)
        jobs: list[tuple[int, str, str, str, str]] = []
        with self.db.transaction() as session:
            claimed = store.claim_deliveries(session, due, now, self.server_id, lease)
            for delivery_id in claimed:
                delivery = session.get(NotificationDelivery, delivery_id)
                assert delivery is not None
                destination = session.get(NotificationDestination, delivery.destination_id)
                assert destination is not None
                if destination.dead_since is not None:
                    delivery.status, delivery.claimed_by = "failed", None
                    delivery.last_error = f"destination {destination.name!r} is marked dead"
                    continue
                from jupyter_flows.server.service.notifications import destination_url

                url = destination_url(session, self.keyring, destination)
                jobs.append((delivery_id, destination.id, url, delivery.title, delivery.body))
        futures = [(job, self._pool.submit(self._timed_send, *job[2:])) for job in jobs]
        sent = 0
        for (delivery_id, destination_id, _, _, _), future in futures:
            started, duration, error = future.result()
            sent += self._record(delivery_id, destination_id, started, duration, error)
        return sent

    def _timed_send(self, url: str, title: str, body: str) -> tuple[datetime, float, str | None]:
        started, clock = utcnow(), time.monotonic()
        try:
            error = self.send(url, title, body)
        except Exception as failure:  # a sender that raises is a failed attempt, not a crash
            error = f"{type(failure).__name__}: {failure}"
        return started, time.monotonic() - clock, error

    def _record(
        self,
        delivery_id: int,
        destination_id: str,
        started: datetime,
        duration: float,
        error: str | None,
    ) -> int:
        with self.db.transaction() as session:
            delivery = session.get(NotificationDelivery, delivery_id)
            destination = session.get(NotificationDestination, destination_id)
            if delivery is None or destination is None:
                return 0
            if delivery.claimed_by != self.server_id or delivery.status != "sending":
                return 0  # our claim expired and another server took it over
            delivery.attempts += 1
            delivery.claimed_by = delivery.claimed_until = None
            store.record_attempt(
                session,
                delivery,
                destination,
                started_at=started,
                duration=duration,
                error=error,
                sender=self.server_id,
            )
            if error is None:
                delivery.status, delivery.sent_at, delivery.last_error = "sent", utcnow(), None
                destination.consecutive_failures = 0
                return 1
            delivery.last_error = error
            destination.consecutive_failures += 1
            destination.last_error = error
            if destination.consecutive_failures >= self.dead_after and not destination.dead_since:
                destination.dead_since = utcnow()
                self.log.warning(
                    "jupyter-flows notifications: destination %r marked dead after %d "
                    "failures in a row: %s",
                    destination.name,
                    destination.consecutive_failures,
                    error,
                )
            if delivery.attempts >= self.max_attempts or destination.dead_since is not None:
                delivery.status = "failed"
            else:
                delivery.status = "pending"
                delay = min(self.backoff * 2 ** (delivery.attempts - 1), self.max_backoff)
                delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
            return 0


def send_test(db: Database, keyring: Keyring, name: str, sender: Sender | None = None) -> Any:
    """``send a test``: one message to the destination now (in the caller's thread: a
    handler runs it on its executor), recorded in the log."""
    from jupyter_flows.server.service import notifications

    with db.transaction(readonly=True) as session:
        target = notifications.test_target(session, keyring, name)
    started, clock = utcnow(), time.monotonic()
    try:
        error = (sender or apprise_send)(target["url"], target["title"], target["body"])
    except Exception as failure:
        error = f"{type(failure).__name__}: {failure}"
    duration = time.monotonic() - clock
    with db.transaction() as session:
        return notifications.record_test(
            session, target["destination_id"], started_at=started, duration=duration, error=error
        )
