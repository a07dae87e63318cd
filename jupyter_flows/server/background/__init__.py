"""The server's background services: the scheduler, the late-run marker, the crash reaper,
retention, backfills and the notification delivery service.

Each is a small class with one stateless tick, ``run_once(now)`` (``scheduler``,
``late_runs``, ``reaper``, ``retention``, ``backfills``, ``notifier``); ``loop.ServiceLoop``
runs the ticks on the server's event loop and stops them. Slot arithmetic is pure and lives
in ``schedules``.
:class:`BackgroundConfig` holds their settings as ``FlowsApp`` traits and starts and stops
them with the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from traitlets import Bool, Float, HasTraits, Int, Unicode

from jupyter_flows.credentials import Keyring
from jupyter_flows.server.background.backfills import BackfillReleaser
from jupyter_flows.server.background.late_runs import LateRunMarker
from jupyter_flows.server.background.loop import ServiceLoop
from jupyter_flows.server.background.notifier import Notifier
from jupyter_flows.server.background.reaper import Reaper
from jupyter_flows.server.background.retention import Pruner
from jupyter_flows.server.background.scheduler import Publish, Scheduler
from jupyter_flows.store import Database
from jupyter_flows.store.notifications import event_of
from jupyter_flows.store.types import utcnow

__all__ = [
    "BackfillReleaser",
    "LateRunMarker",
    "Notifier",
    "Pruner",
    "Reaper",
    "Scheduler",
    "ServiceLoop",
    "BackgroundConfig",
]


#: Seconds the notifier, woken by a state change, waits for more before its tick.
NOTIFIER_GATHER = 0.25


def _waker(service_loop: ServiceLoop) -> Callable[[list[Any]], None]:
    """A bus listener that wakes the notifier when a flow run's state may be an event."""

    def listener(messages: list[Any]) -> None:
        for message in messages:
            body = getattr(message, "body", None) or {}
            if body.get("type") == "state" and body.get("kind") == "flow_run":
                state = body.get("state") or {}
            elif body.get("type") == "flow_run":
                state = (body.get("flow_run") or {}).get("state") or {}
            else:
                continue
            if event_of(state.get("type") or "SCHEDULED", state.get("name")) is not None:
                service_loop.wake()
                return

    return listener


class BackgroundConfig(HasTraits):
    """Settings of the background services (mixed into ``FlowsApp``)."""

    scheduler_enabled = Bool(
        True,
        help="Run the scheduler, the late-run marker and the backfill service in this "
        "server. Safe on any number of servers sharing one database (each slot is one run); "
        "turn off for a server that should only serve the API.",
    ).tag(config=True)
    scheduler_interval_seconds = Float(
        60.0, help="Seconds between two ticks of the scheduler."
    ).tag(config=True)
    scheduler_horizon_runs = Int(
        100, help="At most this many future runs per schedule are created ahead of time."
    ).tag(config=True)
    scheduler_horizon_days = Float(
        7.0, help="Runs are created ahead of time up to this many days from now."
    ).tag(config=True)
    late_runs_interval_seconds = Float(
        5.0, help="Seconds between two looks for Scheduled runs that did not start on time."
    ).tag(config=True)
    late_runs_grace_seconds = Float(
        15.0, help="A Scheduled run not started this many seconds after its time is Late."
    ).tag(config=True)

    reaper_enabled = Bool(
        True,
        help="Run the crash reaper in this server: runs whose attempt's lease was not "
        "renewed in time (their agent stopped heartbeating, or stopped naming them) become "
        "Crashed (and are retried if the flow allows).",
    ).tag(config=True)
    reaper_threshold_seconds = Float(
        60.0,
        help="How long a claimed attempt's lease lasts without a heartbeat renewing it; an "
        "agent not heard from for this long is offline. Keep it well above the agents' "
        "heartbeat interval (10 s by default).",
    ).tag(config=True)
    reaper_interval_seconds = Float(5.0, help="Seconds between two ticks of the reaper.").tag(
        config=True
    )

    backfill_interval_seconds = Float(
        5.0, help="Seconds between two looks for backfills whose cap lets more runs start."
    ).tag(config=True)

    retention_keep_runs = Int(
        None,
        allow_none=True,
        help="Keep the last this many finished runs of each deployment (of each flow for "
        "runs of no deployment); None: no limit by count. A deployment may set its own.",
    ).tag(config=True)
    retention_keep_days = Float(
        None,
        allow_none=True,
        help="Keep runs that finished less than this many days ago; None: no limit by age. "
        "With neither this nor retention_keep_runs, nothing is deleted.",
    ).tag(config=True)
    retention_keep_last_failure = Bool(
        True, help="Always keep each deployment's last failed, crashed or timed-out run."
    ).tag(config=True)
    retention_enabled = Bool(
        True,
        help="Run the retention service in this server (it deletes nothing unless a "
        "policy says so).",
    ).tag(config=True)
    retention_interval_seconds = Float(
        300.0, help="Seconds between two ticks of the retention service."
    ).tag(config=True)
    retention_batch_size = Int(
        500, help="Runs deleted per transaction (a writer waits for one batch at most)."
    ).tag(config=True)
    retention_max_batches = Int(20, help="Batches one tick of retention deletes at most.").tag(
        config=True
    )
    retention_blob_grace_seconds = Float(
        3600.0,
        help="A blob no row names is deleted only once it was last written, and last named "
        "by a deleted row, this many seconds ago: longer than any run takes to report what "
        "it stored.",
    ).tag(config=True)
    retention_storage_url = Unicode(
        None,
        allow_none=True,
        help="The blob storage retention collects in (default: JUPYTER_FLOWS_STORAGE_URL, "
        "else the local blob folder).",
    ).tag(config=True)
    notifications_enabled = Bool(
        True,
        help="Run the notification delivery service in this server (outbox → apprise). Safe "
        "on any number of servers sharing one database: each message is sent by one.",
    ).tag(config=True)
    notifications_interval_seconds = Float(
        0.5, help="Seconds between two looks at the notification outbox."
    ).tag(config=True)
    notifications_public_url = Unicode(
        "",
        help="The team server's public URL, for the link in a notification that opens the "
        "run in JupyterLab (<url>/lab?flows-run=<id>). Empty: this server's own URL.",
    ).tag(config=True)
    notifications_max_attempts = Int(
        5, help="Tries of one notification before it is given up as failed."
    ).tag(config=True)
    notifications_backoff_seconds = Float(
        2.0, help="Wait before a notification's second try; doubled for each try after it."
    ).tag(config=True)
    notifications_dead_after = Int(
        5,
        help="A destination whose deliveries failed this many times in a row is marked dead "
        "(nothing is sent to it until a test succeeds or its URL is replaced).",
    ).tag(config=True)

    _background_loops: list[ServiceLoop] | None = None

    def retention_pruner(self, db: Database) -> Pruner:
        """The retention service of these settings (the API's prune uses it too)."""
        from jupyter_flows.storage import BlobStore
        from jupyter_flows.store.retention import RetentionPolicy

        return Pruner(
            db,
            RetentionPolicy(
                keep_runs=self.retention_keep_runs,
                keep_days=self.retention_keep_days,
                keep_last_failure=self.retention_keep_last_failure,
            ),
            interval=self.retention_interval_seconds,
            store=BlobStore(self.retention_storage_url),
            batch_size=self.retention_batch_size,
            max_batches=self.retention_max_batches,
            grace=timedelta(seconds=self.retention_blob_grace_seconds),
        )

    def start_background(
        self,
        db: Database,
        publish: Publish | None = None,
        *,
        keyring: Keyring | None = None,
        public_url: str | None = None,
        listen: Callable[[Callable[[list[Any]], None]], None] | None = None,
    ) -> list[ServiceLoop]:
        """Start the enabled services on the running event loop. ``listen`` (the event
        bus's ``add_listener``): this server's own state changes wake the notifier at once
        (another server's are seen at its next tick)."""
        if self._background_loops:
            return self._background_loops
        services: list[Any] = []
        if self.scheduler_enabled:
            services.append(
                Scheduler(
                    db,
                    horizon_runs=self.scheduler_horizon_runs,
                    horizon=timedelta(days=self.scheduler_horizon_days),
                    interval=self.scheduler_interval_seconds,
                    publish=publish,
                )
            )
            services.append(
                LateRunMarker(
                    db,
                    grace=timedelta(seconds=self.late_runs_grace_seconds),
                    interval=self.late_runs_interval_seconds,
                    publish=publish,
                )
            )
            services.append(
                BackfillReleaser(db, interval=self.backfill_interval_seconds, publish=publish)
            )
        if self.reaper_enabled:
            services.append(
                Reaper(
                    db,
                    threshold=timedelta(seconds=self.reaper_threshold_seconds),
                    interval=self.reaper_interval_seconds,
                    publish=publish,
                    started=utcnow(),
                )
            )
        if self.retention_enabled:
            services.append(self.retention_pruner(db))
        if self.notifications_enabled:
            services.append(
                Notifier(
                    db,
                    keyring or Keyring(),
                    interval=self.notifications_interval_seconds,
                    public_url=self.notifications_public_url or public_url,
                    max_attempts=self.notifications_max_attempts,
                    backoff=self.notifications_backoff_seconds,
                    dead_after=self.notifications_dead_after,
                    publish=publish,
                )
            )
        if not services:
            return []
        # The notifier is woken by every final state: under load, a tick per state change
        # would compete with the state changes for the database. A burst is one tick.
        self._background_loops = [
            ServiceLoop(service, gather=NOTIFIER_GATHER if isinstance(service, Notifier) else 0.0)
            for service in services
        ]
        for service_loop in self._background_loops:
            service_loop.start()
            if listen is not None and isinstance(service_loop.service, Notifier):
                listen(_waker(service_loop))
        return self._background_loops

    async def stop_background(self) -> None:
        """Stop the services; returns once their ticks in progress ended (or gave up)."""
        loops, self._background_loops = self._background_loops or [], None
        await asyncio.gather(*(service_loop.stop() for service_loop in loops))
        for service_loop in loops:
            close = getattr(service_loop.service, "close", None)
            if close is not None:
                close()
