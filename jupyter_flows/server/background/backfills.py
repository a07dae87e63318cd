"""Makes the next runs of running backfills as their concurrency caps free up.

A backfill makes its first ``max_concurrent`` runs when it is created; each tick here makes
more for every backfill whose unfinished runs are fewer than its cap
(``service.backfills.release``, one short transaction per backfill, the backfill's row
written first so two servers take turns). Stateless between ticks.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from jupyter_flows.server.background.scheduler import Publish
from jupyter_flows.server.event_bus import EVENTS_KEY
from jupyter_flows.server.service import backfills as service_backfills
from jupyter_flows.store import Database
from jupyter_flows.store import backfills as store_backfills
from jupyter_flows.store.types import utcnow

log = logging.getLogger(__name__)


class BackfillReleaser:
    name = "backfills"

    def __init__(
        self,
        db: Database,
        interval: float = 5.0,
        *,
        publish: Publish | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError("interval must be positive")
        self.db = db
        self.interval = float(interval)
        self.publish = publish
        self.log = logger or log

    def run_once(self, now: datetime | None = None) -> int:
        """One tick at ``now``; how many runs it made."""
        now = now or utcnow()
        with self.db.read_session() as session:
            waiting = store_backfills.read_releasable(session)
        made = 0
        for backfill_id in waiting:
            events: list[Any] = []
            try:
                with self.db.transaction() as session:
                    made += service_backfills.release(session, backfill_id, now=now)
                    events = session.info.pop(EVENTS_KEY, [])
            except SQLAlchemyError:
                self.log.exception("backfills: could not release backfill %s", backfill_id)
                continue
            if self.publish is not None:
                for event in events:
                    self.publish(event)
        return made
