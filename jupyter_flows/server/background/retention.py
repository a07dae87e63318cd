"""Retention: deletes finished runs the policies let go, in bounded batches, then collects
the blobs nothing names any more.

One tick (:meth:`Pruner.run_once`) deletes at most ``max_batches`` batches of
``batch_size`` runs, each batch in a short transaction of its own (a writer waits for one
batch at most, never for the whole prune), then collects blobs. The policies and what a
deletion takes with it are ``store.retention``'s.

A blob is deleted only when (1) a deleted row named it and that was more than ``grace``
ago, (2) no row names it now (artifacts, flow versions' notebooks, working-file manifests
and their files) and (3) the store last wrote it more than ``grace`` ago. (3) is what makes
collection safe while runs are being written: a run that is about to name a blob has just
``put`` it, and a local store refreshes the time of a blob written again; (1) covers stores
that do not (an object store keeps its first write's time), as long as a writer names what
it put within ``grace``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from jupyter_flows.store import Database
from jupyter_flows.store import retention as store_retention
from jupyter_flows.store.retention import DEFAULT_SETTLE, RetentionPolicy
from jupyter_flows.store.types import utcnow

if TYPE_CHECKING:
    from jupyter_flows.storage import BlobStore

log = logging.getLogger(__name__)


class Pruner:
    """Deletes what the retention policies let go, and the blobs it leaves unreferenced."""

    name = "retention"

    def __init__(
        self,
        db: Database,
        policy: RetentionPolicy,
        interval: float = 300.0,
        *,
        store: BlobStore | None = None,
        batch_size: int = 500,
        max_batches: int = 20,
        grace: timedelta = timedelta(hours=1),
        settle: timedelta = DEFAULT_SETTLE,
        logger: logging.Logger | None = None,
    ) -> None:
        if not interval > 0 or batch_size < 1 or max_batches < 1 or grace < timedelta(0):
            raise ValueError("interval, batch_size and max_batches must be positive")
        self.db = db
        self.policy = policy
        self.interval = float(interval)
        self.store = store
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.grace = grace
        self.settle = settle
        self.log = logger or log
        #: A manifest's files never change (it is named by its hash): read each once.
        self._manifests: dict[str, list[str]] = {}

    def run_once(self, now: datetime | None = None) -> int:
        """One tick: prune up to ``max_batches`` batches, collect blobs; runs deleted."""
        now = now or utcnow()
        result = self.prune(now, max_batches=self.max_batches)
        return int(result["runs"])

    # ------------------------------------------------------------------ runs

    def preview(
        self, now: datetime | None = None, *, limit: int = 1000, deployment_id: str | None = None
    ) -> dict[str, Any]:
        """What a prune would delete now (at most ``limit`` runs listed); deletes nothing."""
        now = now or utcnow()
        with self.db.read_session() as session:
            ids = store_retention.prunable_runs(
                session,
                self.policy,
                now=now,
                limit=limit,
                settle=self.settle,
                deployment_id=deployment_id,
            )
            due = store_retention.due_candidates(
                session, marked_before=now - self.grace, limit=limit
            )
            blobs = len(due) - len(self._referenced(session, due))
        return {"dry_run": True, "runs": len(ids), "run_ids": ids, "blobs": blobs}

    def prune(
        self,
        now: datetime | None = None,
        *,
        max_batches: int | None = None,
        deployment_id: str | None = None,
    ) -> dict[str, Any]:
        """Delete batches until none is left (or ``max_batches``), then collect blobs."""
        now = now or utcnow()
        totals: dict[str, Any] = {"runs": 0, "task_runs": 0, "log_lines": 0, "artifacts": 0}
        batches = 0
        while max_batches is None or batches < max_batches:
            with self.db.transaction() as session:
                ids = store_retention.prunable_runs(
                    session,
                    self.policy,
                    now=now,
                    limit=self.batch_size,
                    settle=self.settle,
                    deployment_id=deployment_id,
                )
                deleted = store_retention.delete_runs(session, ids, now=now)
            batches += 1
            for key, value in asdict(deleted).items():
                if key in totals:
                    totals[key] += value
            if len(ids) < self.batch_size:
                break
        if totals["runs"]:
            self.log.info("retention: deleted %d runs in %d batches", totals["runs"], batches)
        totals["blobs"] = self.collect_blobs(now)
        totals["dry_run"] = False
        return totals

    # ------------------------------------------------------------------ blobs

    def collect_blobs(self, now: datetime | None = None) -> int:
        """Delete candidate blobs that are past the grace period and named by no row."""
        if self.store is None:
            return 0
        now = now or utcnow()
        marked_before = now - self.grace
        collected = 0
        while True:
            with self.db.read_session() as session:
                due = store_retention.due_candidates(
                    session, marked_before=marked_before, limit=self.batch_size
                )
                if not due:
                    return collected
                referenced = self._referenced(session, due)
            gone: list[str] = []
            for digest in due:
                if digest in referenced or self._young(digest, marked_before):
                    continue
                self.store.delete(digest)
                gone.append(digest)
            collected += len(gone)
            # Dealt with either way: a referenced blob becomes a candidate again when the
            # row that names it is deleted; a young one when a newer run's is.
            with self.db.transaction() as session:
                store_retention.forget_candidates(session, due, marked_before=marked_before)
            if len(due) < self.batch_size:
                return collected

    def _young(self, digest: str, written_before: datetime) -> bool:
        from jupyter_flows.storage import BlobNotFound

        assert self.store is not None
        try:
            modified = self.store.modified(digest)
        except BlobNotFound:
            return False  # nothing to spare; delete is a no-op
        return modified is not None and modified >= written_before.timestamp()

    def _referenced(self, session: Any, digests: Iterable[str]) -> set[str]:
        return store_retention.referenced_digests(session, digests, self._manifest_files)

    def _manifest_files(self, digest: str) -> list[str]:
        # A manifest that cannot be read raises: the tick fails and deletes nothing more,
        # rather than take its files for unreferenced.
        if digest not in self._manifests:
            if self.store is None:
                return []
            self._manifests[digest] = list(self.store.get_manifest(digest).values())
        return self._manifests[digest]
