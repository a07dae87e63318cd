"""Retention on SQLite and PostgreSQL: 10,000 runs pruned in batches while new runs are
written; nothing referenced is lost; the database and the blob store shrink."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jupyter_flows.engine.ids import new_id
from jupyter_flows.engine.states import State, StateType
from jupyter_flows.server.background import Pruner
from jupyter_flows.storage import BlobStore
from jupyter_flows.store import Database, deployments, flows, runs
from jupyter_flows.store.models import (
    Artifact,
    Deployment,
    FlowRun,
    FlowRunState,
    LogLine,
    TaskRun,
    TaskRunState,
)
from jupyter_flows.store.retention import RetentionPolicy, prunable_runs

UTC = timezone.utc
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TABLES = (FlowRun, FlowRunState, TaskRun, TaskRunState, LogLine, Artifact)


@pytest.fixture
def db(flows_db_url: str) -> Iterator[Database]:
    database = Database(flows_db_url, upgrade=False)
    yield database
    database.dispose()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def make_flow(db: Database, store: BlobStore, *, keep_runs: int | None = None) -> dict[str, Any]:
    """A flow whose version names a notebook blob and a manifest of working files, and its
    deployment (with its own retention when ``keep_runs``)."""
    notebook = store.put(b'{"cells": []}')
    working_file = store.put(b"data,1\n")
    manifest = store.put_manifest({"data.csv": working_file})
    content = {
        "tasks": [],
        "edges": [],
        "resource_spec": {"working_files": {"manifest": manifest}},
    }
    with db.transaction() as s:
        version, _ = flows.register_flow_version(
            s, "default", "etl", content, entrypoint=f"etl.ipynb#sha256={notebook}"
        )
        deployment = deployments.create_deployment(s, flow_group_id=version.flow_group_id, name="d")
        deployment.retention_keep_runs = keep_runs
        return {
            "group": version.flow_group_id,
            "deployment": deployment.id,
            "version_blobs": {notebook, working_file, manifest},
        }


def seed(
    db: Database,
    flow: dict[str, Any],
    count: int,
    store: BlobStore,
    *,
    deployment: bool = True,
    failed_every: int = 0,
    shared_blobs: int = 50,
) -> dict[int, str]:
    """``count`` finished runs, one a minute up to a day before NOW, each with a task run,
    two states each, three log lines and a notebook artifact: run i names blob
    ``i % shared_blobs`` when ``shared_blobs`` (else a blob of its own). Bulk inserts, no
    state machine: this is about volume. Returns {blob index: digest}."""
    blobs: dict[int, str] = {}
    flow_runs, flow_states, task_runs, task_states, logs, artifacts = [], [], [], [], [], []
    start = NOW - timedelta(days=1) - timedelta(minutes=count)
    for i in range(count):
        when = start + timedelta(minutes=i)
        run_id, task_id = new_id(), new_id()
        failed = failed_every and i % failed_every == 0
        final = StateType.FAILED if failed else StateType.COMPLETED
        key = i % shared_blobs if shared_blobs else i
        if key not in blobs:
            blobs[key] = store.put(f"executed notebook {key} {flow['group']}".encode())
        flow_runs.append(
            {
                "id": run_id,
                "name": f"run-{i}",
                "flow_group_id": flow["group"],
                "deployment_id": flow["deployment"] if deployment else None,
                "state_type": final,
                "state_name": final.value.title(),
                "state_timestamp": when,
                "state_seq": 2,
                "end_time": when,
                "created": when,
                "updated": when,
            }
        )
        for seq, state in ((1, StateType.RUNNING), (2, final)):
            row = {"seq": seq, "type": state, "name": state.value, "timestamp": when}
            flow_states.append({"run_id": run_id, **row})
            task_states.append({"run_id": task_id, **row})
        task_runs.append(
            {
                "id": task_id,
                "flow_run_id": run_id,
                "task_key": "cell-1",
                "name": "cell-1",
                "state_type": final,
                "state_seq": 2,
                "created": when,
                "updated": when,
            }
        )
        for n in range(3):
            logs.append(
                {
                    "flow_run_id": run_id,
                    "task_run_id": task_id if n else None,
                    "level": 20,
                    "name": "",
                    "message": f"line {n} of run {i} " + "x" * 200,
                    "timestamp": when,
                }
            )
        artifacts.append(
            {
                "id": new_id(),
                "flow_run_id": run_id,
                "task_run_id": None,
                "type": "notebook",
                "data": {"digest": blobs[key], "uri": "…"},
                "created": when,
            }
        )
    with db.transaction() as s:
        for model, rows in (
            (FlowRun, flow_runs),
            (FlowRunState, flow_states),
            (TaskRun, task_runs),
            (TaskRunState, task_states),
            (LogLine, logs),
            (Artifact, artifacts),
        ):
            s.connection().execute(model.__table__.insert(), rows)  # type: ignore[attr-defined]
    old = (NOW - timedelta(days=30)).timestamp()
    for digest in blobs.values():  # written long ago, as a month of runs would have
        os.utime(store._path(digest)[1], (old, old))
    return blobs


def counts(db: Database) -> dict[str, int]:
    with db.read_session() as s:
        return {
            m.__tablename__: int(s.scalar(sa.select(sa.func.count()).select_from(m)) or 0)
            for m in TABLES
        }


def used_bytes(db: Database) -> int:
    """Bytes the tables' live rows take: SQLite's pages in use; PostgreSQL's after VACUUM
    (which returns the deleted rows' space to the table's free space, counted apart)."""
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int((pages - free) * size)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM FULL")
        return int(
            conn.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            ).scalar_one()
        )


def blob_count(store: BlobStore) -> int:
    return sum(1 for _ in Path(store.url, "sha256").rglob("*") if _.is_file())


def write_runs(db: Database, flow: dict[str, Any], stop: threading.Event, made: list[str]) -> None:
    """What a busy server does meanwhile: new runs of another deployment of the flow,
    moved to Completed, with logs (the pruned deployment's "last 100" stays the seeded)."""
    with db.transaction() as s:
        busy = deployments.create_deployment(s, flow_group_id=flow["group"], name="busy").id
    while not stop.wait(0.005):
        with db.transaction() as s:
            run = runs.create_flow_run(
                s,
                flow_group_id=flow["group"],
                deployment_id=busy,
                state=State(StateType.PENDING, timestamp=NOW),
            )
            runs.propose_state(s, run, State(StateType.RUNNING, timestamp=NOW))
            runs.propose_state(s, run, State(StateType.COMPLETED, timestamp=NOW))
            s.execute(
                sa.insert(LogLine),
                [{"flow_run_id": run.id, "level": 20, "message": "hi", "timestamp": NOW}],
            )
            made.append(run.id)


def test_ten_thousand_runs_are_pruned_in_batches_while_runs_are_written(
    db: Database, store: BlobStore
) -> None:
    flow = make_flow(db, store, keep_runs=100)
    blobs = seed(db, flow, 9_000, store, failed_every=1_000)  # run 0, 1000, … 8000 fail
    adhoc = seed(db, flow, 1_000, store, deployment=False, shared_blobs=0)
    before, before_bytes, before_blobs = counts(db), used_bytes(db), blob_count(store)
    assert before["flow_runs"] == 10_000

    pruner = Pruner(
        db,
        RetentionPolicy(keep_runs=10),  # the default: runs of no deployment keep 10
        store=store,
        batch_size=500,
        max_batches=3,
        grace=timedelta(0),
    )
    # Dry run first: it names what would go and deletes nothing.
    preview = pruner.preview(NOW, limit=20_000)
    assert preview["dry_run"] and preview["runs"] == (9_000 - 100 - 1) + (1_000 - 10)
    assert counts(db) == before and blob_count(store) == before_blobs

    made: list[str] = []
    stop = threading.Event()
    writer = threading.Thread(target=write_runs, args=(db, flow, stop, made))
    writer.start()
    try:
        ticks = []
        while True:  # the service's ticks: at most 3 batches of 500 each
            deleted = pruner.run_once(NOW)
            ticks.append(deleted)
            if deleted < 1_500:
                break
    finally:
        stop.set()
        writer.join()
    assert max(ticks) <= 1_500 and len(ticks) >= 6
    assert sum(ticks) == preview["runs"]
    assert made, "the writer made no run while the pruner ran"

    after = counts(db)
    # Kept: the deployment's last 100 seeded runs, its last failure (run 8000), the 10
    # newest ad-hoc runs, and every run written meanwhile (they finished just now).
    assert after["flow_runs"] == 100 + 1 + 10 + len(made)
    with db.read_session() as s:
        kept = set(
            s.scalars(sa.select(FlowRun.name).where(FlowRun.deployment_id == flow["deployment"]))
        )
        assert {f"run-{i}" for i in range(8_900, 9_000)} | {"run-8000"} <= kept
        assert set(made) <= set(s.scalars(sa.select(FlowRun.id)))
        # Every kept run keeps all that is its own.
        orphans = s.scalar(
            sa.select(sa.func.count())
            .select_from(LogLine)
            .where(~LogLine.flow_run_id.in_(sa.select(FlowRun.id)))
        )
        assert orphans == 0
    assert after["task_runs"] == after["flow_runs"] - len(made)
    assert after["log_lines"] == 3 * (after["flow_runs"] - len(made)) + len(made)

    # Blobs: what kept rows name is there; the rest is gone.
    with db.read_session() as s:
        named = {d["digest"] for d in s.scalars(sa.select(Artifact.data))}
    for digest in named | flow["version_blobs"]:
        assert store.get(digest)  # present and intact
    gone = (set(blobs.values()) | set(adhoc.values())) - named
    assert gone and not any(store.exists(d) for d in gone)
    assert blob_count(store) == before_blobs - len(gone)
    assert used_bytes(db) < before_bytes / 2


def test_a_blob_is_spared_while_young_named_again_or_within_the_grace(
    db: Database, store: BlobStore
) -> None:
    flow = make_flow(db, store, keep_runs=0)
    blobs = seed(db, flow, 3, store, shared_blobs=0)
    policy = RetentionPolicy(keep_last_failure=False)
    pruner = Pruner(db, policy, store=store, grace=timedelta(hours=1))
    assert pruner.run_once(NOW) == 3
    # Marked just now: within the grace, nothing is collected yet.
    assert all(store.exists(d) for d in blobs.values())

    later = NOW + timedelta(hours=2)
    # One blob is written again by a run in progress (put refreshes its time) ...
    store.put(f"executed notebook 0 {flow['group']}".encode())
    # ... and one is named by a new artifact of a kept run.
    with db.transaction() as s:
        run = runs.create_flow_run(s, flow_group_id=flow["group"])
        s.add(Artifact(flow_run_id=run.id, type="notebook", data={"digest": blobs[1]}))
    assert pruner.collect_blobs(later) == 1
    assert store.exists(blobs[0]) and store.exists(blobs[1]) and not store.exists(blobs[2])


def test_policies_keep_by_count_age_and_last_failure(db: Database, store: BlobStore) -> None:
    flow = make_flow(db, store)
    seed(db, flow, 50, store, failed_every=7)  # runs 0, 7, …, 49 fail; 49 is the newest
    with db.read_session() as s:

        def names(policy: RetentionPolicy) -> set[str]:
            ids = prunable_runs(s, policy, now=NOW, limit=1_000)
            return set(s.scalars(sa.select(FlowRun.name).where(FlowRun.id.in_(ids))))

        assert names(RetentionPolicy()) == set()  # no rule: keep everything
        by_count = names(RetentionPolicy(keep_runs=10, keep_last_failure=False))
        assert by_count == {f"run-{i}" for i in range(40)}
        # Run 49 is the last failure and among the last 10 anyway: runs 0..39 go.
        assert names(RetentionPolicy(keep_runs=10)) == by_count
        # The seeded runs ended a day and 1..50 minutes before NOW.
        by_age = names(RetentionPolicy(keep_days=1 + 30 / 1440, keep_last_failure=False))
        assert by_age == {f"run-{i}" for i in range(20)}
        both = names(RetentionPolicy(keep_runs=45, keep_days=1 + 30 / 1440))
        assert both == {f"run-{i}" for i in range(5)}

    with db.transaction() as s:
        s.get_one(Deployment, flow["deployment"]).retention_keep_runs = 48
    with db.read_session() as s:
        # The deployment's own setting wins over the default's.
        ids = prunable_runs(s, RetentionPolicy(keep_runs=1), now=NOW, limit=1_000)
        assert len(ids) == 2


def test_subflows_go_with_their_parent_and_unfinished_runs_stay(
    db: Database, store: BlobStore
) -> None:
    flow = make_flow(db, store)
    with db.transaction() as s:
        parent = runs.create_flow_run(s, flow_group_id=flow["group"], state=StateType.PENDING)
        child = runs.create_flow_run(
            s, flow_group_id=flow["group"], state=StateType.PENDING, parent_flow_run_id=parent.id
        )
        running = runs.create_flow_run(s, flow_group_id=flow["group"], state=StateType.PENDING)
        ts = NOW - timedelta(days=3)
        for run in (child, parent):
            runs.propose_state(s, run, State(StateType.RUNNING, timestamp=ts))
            runs.propose_state(s, run, State(StateType.COMPLETED, timestamp=ts))
        runs.propose_state(s, running, State(StateType.RUNNING, timestamp=ts))
        ids = (parent.id, child.id, running.id)
    pruner = Pruner(db, RetentionPolicy(keep_runs=0), store=store)
    assert pruner.prune(NOW)["runs"] == 2  # the parent and its subflow, as one
    with db.read_session() as s:
        assert [r.id for r in s.scalars(sa.select(FlowRun).where(FlowRun.id.in_(ids)))] == [ids[2]]
