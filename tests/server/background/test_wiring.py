"""FlowsApp starts the background services with the server and stops them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from jupyter_flows.server.app import FlowsApp
from jupyter_flows.store import Database, deployments, flows, queues, run_queries
from jupyter_flows.store.types import utcnow

GUARD = 30  # a hang guard, not a timing assertion
SLOW = {"scheduler_interval_seconds": 3600.0, "late_runs_interval_seconds": 3600.0}


@pytest.fixture
def flows_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(getattr(request, "param", {**SLOW, "scheduler_horizon_runs": 3}))


def flows_app(serverapp: Any) -> FlowsApp:
    points = serverapp.extension_manager.extensions["jupyter_flows"].extension_points
    return next(p.app for p in points.values() if isinstance(p.app, FlowsApp))


async def test_services_start_with_the_server_and_stop_with_it(
    jp_serverapp: Any, flows_db_url: str
) -> None:
    with Database(flows_db_url, upgrade=False) as db, db.transaction() as s:
        group = flows.get_or_create_flow_group(s, "default", "etl")
        queue = queues.get_or_create_work_queue(s, "default")
        deployment = deployments.create_deployment(
            s, flow_group_id=group.id, name="hourly", work_queue_id=queue.id
        )
        deployments.add_schedule(s, deployment.id, interval=timedelta(hours=1))
    app = flows_app(jp_serverapp)
    assert app.scheduler_horizon_runs == 3 and app.scheduler_interval_seconds == 3600

    await app._start_jupyter_server_extension(jp_serverapp)
    loops = app._background_loops or []
    assert [loop.name for loop in loops] == [
        "scheduler",
        "late runs",
        "backfills",
        "reaper",
        "retention",
        "notifications",
    ]
    await asyncio.wait_for(loops[0].wait_for_tick(), GUARD)
    assert all(loop.running for loop in loops)

    with Database(flows_db_url, upgrade=False) as db, db.read_session() as s:
        made = run_queries.read_flow_runs(
            s, run_queries.FlowRunFilter(deployment_ids=[deployment.id])
        )
    assert len(made) == 3 and all(r.expected_start_time > utcnow() for r in made)

    await asyncio.wait_for(app.stop_extension(), GUARD)
    assert not any(loop.running for loop in loops) and app._background_loops is None


@pytest.mark.parametrize(
    "flows_config",
    [
        {
            **SLOW,
            "scheduler_enabled": False,
            "reaper_enabled": False,
            "retention_enabled": False,
            "notifications_enabled": False,
        }
    ],
    indirect=True,
)
async def test_services_can_be_turned_off(jp_serverapp: Any) -> None:
    app = flows_app(jp_serverapp)
    await app._start_jupyter_server_extension(jp_serverapp)
    assert app._background_loops is None
