"""Retention through the API: a deployment's own settings, and ``POST retention/prune``."""

from __future__ import annotations

from datetime import timedelta

from jupyter_flows.engine.states import State, StateType
from jupyter_flows.store import Database, runs
from jupyter_flows.store.models import FlowRun
from jupyter_flows.store.types import utcnow

UNKNOWN = "00000000-0000-0000-0000-000000000000"


async def test_a_deployment_keeps_its_own_retention_and_prune_follows_it(
    api, flows_db_url: str
) -> None:
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "nightly"}
    deployment = (await api("POST", "deployments", body, expect=201)).body
    assert deployment["retention"] == {
        "keep_runs": None,
        "keep_days": None,
        "keep_last_failure": None,
    }
    path = f"deployments/{deployment['id']}"
    changed = await api("PATCH", path, {"retention": {"keep_runs": 1}}, expect=200)
    assert changed.body["retention"]["keep_runs"] == 1
    assert (await api("GET", path)).body["retention"]["keep_runs"] == 1

    made = [
        (await api("POST", f"{path}/runs", {"parameters": {"n": i}}, expect=201)).body["id"]
        for i in range(3)
    ]
    day_ago = utcnow() - timedelta(days=1)
    with Database(flows_db_url, upgrade=False) as db, db.transaction() as s:
        for i, run_id in enumerate(made):  # finished a day ago, one a minute
            run = s.get_one(FlowRun, run_id)
            when = day_ago + timedelta(minutes=i)
            for step in (StateType.PENDING, StateType.RUNNING, StateType.COMPLETED):
                runs.propose_state(s, run, State(step, timestamp=when))

    preview = (await api("POST", "retention/prune", {"dry_run": True}, expect=200)).body
    assert preview["dry_run"] is True and preview["runs"] == 2
    assert set(preview["run_ids"]) == set(made[:2])
    assert (await api("GET", "flow-runs")).body["total"] == 3  # a dry run deletes nothing

    pruned = (await api("POST", "retention/prune", expect=200)).body
    assert pruned["dry_run"] is False and pruned["runs"] == 2
    listed = (await api("GET", "flow-runs")).body
    assert [r["id"] for r in listed["items"]] == [made[2]]

    await api("PATCH", path, {"retention": None}, expect=200)
    assert (await api("GET", path)).body["retention"]["keep_runs"] is None


async def test_the_server_default_is_readable(api) -> None:
    default = (await api("GET", "retention/default", expect=200)).body
    assert default == {"keep_runs": None, "keep_days": None, "keep_last_failure": True}


async def test_bad_prune_requests(api) -> None:
    answer = await api("POST", "retention/prune", {"deployment_id": UNKNOWN}, expect=404)
    assert answer.error == "not_found"
    await api("POST", "retention/prune", {"dry_run": "yes"}, expect=400)
    await api("POST", "retention/prune", {"limit": 0}, expect=400)
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "d"}
    deployment = (await api("POST", "deployments", body, expect=201)).body
    path = f"deployments/{deployment['id']}"
    await api("PATCH", path, {"retention": {"keep_runs": -1}}, expect=400)
    await api("PATCH", path, {"retention": {"keep_days": "7"}}, expect=400)
