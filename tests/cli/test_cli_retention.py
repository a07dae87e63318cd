"""``runs prune``, ``deployment retention`` and ``deployment backfill`` against a server."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from jupyter_flows.client import FlowsClient
from jupyter_flows.engine.states import State, StateType
from jupyter_flows.store import Database, runs
from jupyter_flows.store.models import FlowRun
from jupyter_flows.store.types import utcnow
from tests.cli.conftest import Invoke
from tests.flows_server import FlowsServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "etl_flow.py"


def _deployment(invoke: Invoke, api: FlowsClient, name: str, *extra: str) -> str:
    assert invoke("register", str(EXAMPLE)).exit_code == 0
    made = invoke("deployment", "create", "etl", name, "-p", "n=7", *extra)
    assert made.exit_code == 0, made.output
    (found,) = [d for d in api.iterate(api.list_deployments) if d.name == name]
    return found.id


def test_retention_and_prune(invoke: Invoke, api: FlowsClient, flows_server: FlowsServer) -> None:
    deployment_id = _deployment(invoke, api, "kept-one")
    shown = invoke("deployment", "retention", "etl/kept-one", "--keep-runs", "1")
    assert shown.exit_code == 0, shown.output
    assert "keep_runs=1" in shown.output and "keep_days=default" in shown.output

    made = [api.run_deployment(deployment_id, {"n": i}).id for i in range(3)]
    day_ago = utcnow() - timedelta(days=1)
    with Database(f"sqlite:///{flows_server.db}", upgrade=False) as db, db.transaction() as s:
        for i, run_id in enumerate(made):
            run = s.get_one(FlowRun, run_id)
            for step in (StateType.PENDING, StateType.RUNNING, StateType.COMPLETED):
                runs.propose_state(s, run, State(step, timestamp=day_ago + timedelta(minutes=i)))

    dry = invoke("runs", "prune", "--dry-run", "--deployment", "etl/kept-one")
    assert dry.exit_code == 0 and "Would delete 2 runs" in dry.output, dry.output
    assert made[0] in dry.output and len(list(api.iterate(api.list_flow_runs))) >= 3
    done = invoke("runs", "prune", "--deployment", "etl/kept-one", "--json")
    assert json.loads(done.output)["runs"] == 2
    left = [r.id for r in api.iterate(api.list_flow_runs) if r.id in made]
    assert left == [made[2]]
    reset = invoke("deployment", "retention", "etl/kept-one", "--default")
    assert "keep_runs=default" in reset.output


def test_backfill_previews_makes_once_and_cancels(invoke: Invoke, api: FlowsClient) -> None:
    _deployment(invoke, api, "hourly-bf", "--cron", "0 * * * *")
    window = ("--start", "2026-05-01T00:00:00Z", "--end", "2026-05-01T03:00:00Z")
    dry = invoke("deployment", "backfill", "etl/hourly-bf", *window, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "4 new runs of 4" in dry.output and "2026-05-01T00:00:00+00:00" in dry.output

    made = invoke("deployment", "backfill", "etl/hourly-bf", *window, "--max-concurrent", "2", "-y")
    assert made.exit_code == 0 and "4 runs planned, 2 made so far" in made.output, made.output
    backfill_id = made.output.split()[1]
    # Asked again: the same backfill, nothing new (the two runs the cap holds back are
    # still to come, so the preview shows them as new).
    again = invoke("deployment", "backfill", "etl/hourly-bf", *window, "--dry-run")
    assert "2 new runs of 4" in again.output and again.output.count("exists") == 2
    repeated = invoke("deployment", "backfill", "etl/hourly-bf", *window, "-y")
    assert f"Backfill {backfill_id} " in repeated.output and "2 made so far" in repeated.output
    cancelled = invoke("deployment", "backfill-cancel", backfill_id)
    assert cancelled.exit_code == 0 and "2 cancelled" in cancelled.output, cancelled.output

    bad = invoke("deployment", "backfill", "etl/hourly-bf", "--start", "2026-05-01")
    assert bad.exit_code == 2
