"""A run's ``trigger``: how it came to be, read from what its row records."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from jupyter_flows.server.service.runs import trigger_of
from jupyter_flows.store.models import FlowRun
from jupyter_flows.store.runs import scheduled_run_key

SLOT = datetime(2026, 5, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"deployment_id": "d", "idempotency_key": scheduled_run_key("d", SLOT)}, "schedule"),
        ({"deployment_id": "d", "backfill_id": "b", "idempotency_key": "backfill:d:k"}, "backfill"),
        ({"deployment_id": "d", "tags": ["rerun-of:r", "trigger:magic"]}, "rerun"),
        ({"deployment_id": "d", "tags": ["nightly", "trigger:ui"]}, "ui"),
        ({"deployment_id": "d", "tags": ["trigger:cli"]}, "cli"),
        ({"deployment_id": "d", "tags": ["trigger:magic"]}, "magic"),
        ({"deployment_id": "d", "tags": ["trigger:automation"]}, "automation"),
        ({"deployment_id": "d", "tags": ["trigger:somebody"]}, "api"),  # not a trigger
        ({"deployment_id": "d"}, "api"),
        ({"parent_flow_run_id": "p"}, "subflow"),
        ({}, "ad hoc"),
    ],
)
def test_trigger_of(fields: dict, expected: str) -> None:
    assert trigger_of(FlowRun(name="r", flow_group_id="g", **{"tags": [], **fields})) == expected


async def test_a_deployment_run_records_where_it_was_asked_for(api) -> None:
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "default", "parameters": {"n": 1}}
    deployment = (await api("POST", "deployments", body, expect=201)).body
    path = f"deployments/{deployment['id']}/runs"

    for trigger in ("ui", "cli", "magic"):
        run = (await api("POST", path, {"trigger": trigger}, expect=201)).body
        assert run["trigger"] == trigger and f"trigger:{trigger}" in run["tags"]
        read = (await api("GET", f"flow-runs/{run['id']}", expect=200)).body
        assert read["trigger"] == trigger
    plain = (await api("POST", path, {}, expect=201)).body
    assert plain["trigger"] == "api"
    rerun = {"tags": [f"rerun-of:{plain['id']}"], "trigger": "ui"}
    assert (await api("POST", path, rerun, expect=201)).body["trigger"] == "rerun"
    refused = await api("POST", path, {"trigger": "telepathy"})
    assert refused.status == 400
    adhoc = await api.adhoc_run()
    assert adhoc["trigger"] == "ad hoc"
