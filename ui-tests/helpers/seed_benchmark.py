"""Seed the UI tests' store for the benchmark: many flows, each with a finished run, and one
flow with a long run history.

Usage: ``python seed_benchmark.py PREFIX FLOWS RUNS``. Writes through the same service call
as ``POST ingest`` (``service.ingest.ingest``), straight into the store the tests' server
uses (``JUPYTER_FLOWS_DB_URL``, set by playwright.config.js), in batches of 1,000 runs, one
transaction each. Going around the server means no event for each of the 10,000 runs: an
open JupyterLab page would otherwise refresh its lists on every batch, and the seeding
would compete with those refreshes for the machine. Prints ``{"target": NAME}``: the flow
with the long history (``PREFIX-0000``).

The runs' states carry times in the past, one run a minute, of varied durations, so the
history's order by start or duration means something.
"""

import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

from jupyter_flows.server.service.ingest import ingest
from jupyter_flows.server.wire import Ingest
from jupyter_flows.store.db import Database

BATCH = 1000


def batch_of(runs: list[tuple[str, datetime, float, str]]) -> Ingest:
    """``runs``: (flow name, start, duration in seconds, final state type)."""
    flow_runs, states = [], []
    for flow, start, seconds, final in runs:
        run_id = str(uuid.uuid4())
        flow_runs.append(
            {
                "id": run_id,
                "name": f"run-{run_id[-8:]}",
                "flow_name": flow,
                "parameters": {"n": 1},
                "state": {"type": "PENDING", "timestamp": start.isoformat()},
            }
        )
        end = start + timedelta(seconds=seconds)
        states += [
            {
                "kind": "flow_run",
                "run_id": run_id,
                "type": "RUNNING",
                "timestamp": start.isoformat(),
            },
            {"kind": "flow_run", "run_id": run_id, "type": final, "timestamp": end.isoformat()},
        ]
    return Ingest.model_validate({"flow_runs": flow_runs, "states": states})


def main() -> None:
    prefix, flows, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    names = [f"{prefix}-{i:04d}" for i in range(flows)]
    target = names[0]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    first = now - timedelta(minutes=runs + 10)
    # One run of each flow (the target's counts towards its history), then the rest of
    # the target's history: RUNS in all for it.
    items = [
        (name, first + timedelta(seconds=i), 1.0 + i % 5, "FAILED" if i % 7 == 3 else "COMPLETED")
        for i, name in enumerate(names)
    ]
    items += [
        (
            target,
            first + timedelta(minutes=k),
            float(1 + (k * 37) % 600),
            "FAILED" if k % 11 == 5 else "COMPLETED",
        )
        for k in range(1, runs)
    ]
    db = Database()
    try:
        for start in range(0, len(items), BATCH):
            with db.transaction() as session:
                answer = ingest(session, batch_of(items[start : start + BATCH]))
            if answer["rejected"]:
                raise SystemExit(f"seeding refused: {answer['rejected'][:3]}")
    finally:
        db.dispose()
    print(json.dumps({"target": target}))


if __name__ == "__main__":
    main()
