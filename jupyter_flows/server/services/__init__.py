"""The server's background services: the scheduler and the late-run marker.

Each is a small class with one stateless tick, ``run_once(now)`` (``scheduler``,
``late_runs``); ``loop.ServiceLoop`` runs the ticks on the server's event loop and stops
them. Slot arithmetic is pure and lives in ``schedules``. :class:`ServicesConfig` holds
their settings as ``FlowsApp`` traits and starts and stops them with the server.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from traitlets import Bool, Float, HasTraits, Int

from jupyter_flows.server.services.late_runs import LateRunMarker
from jupyter_flows.server.services.loop import ServiceLoop
from jupyter_flows.server.services.scheduler import Publish, Scheduler
from jupyter_flows.store import Database

__all__ = ["LateRunMarker", "Scheduler", "ServiceLoop", "ServicesConfig"]


class ServicesConfig(HasTraits):
    """Settings of the background services (mixed into ``FlowsApp``)."""

    scheduler_enabled = Bool(
        True,
        help="Run the scheduler and the late-run marker in this server. Safe on any number "
        "of servers sharing one database (each slot is one run); turn off for a server that "
        "should only serve the API.",
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

    _service_loops: list[ServiceLoop] | None = None

    def start_services(self, db: Database, publish: Publish | None = None) -> list[ServiceLoop]:
        """Start the services on the running event loop (nothing if not enabled)."""
        if not self.scheduler_enabled or self._service_loops:
            return self._service_loops or []
        scheduler = Scheduler(
            db,
            horizon_runs=self.scheduler_horizon_runs,
            horizon=timedelta(days=self.scheduler_horizon_days),
            interval=self.scheduler_interval_seconds,
            publish=publish,
        )
        late = LateRunMarker(
            db,
            grace=timedelta(seconds=self.late_runs_grace_seconds),
            interval=self.late_runs_interval_seconds,
            publish=publish,
        )
        self._service_loops = [ServiceLoop(scheduler), ServiceLoop(late)]
        for service_loop in self._service_loops:
            service_loop.start()
        return self._service_loops

    async def stop_services(self) -> None:
        """Stop the services; returns once their ticks in progress ended (or gave up)."""
        loops, self._service_loops = self._service_loops or [], None
        await asyncio.gather(*(service_loop.stop() for service_loop in loops))
