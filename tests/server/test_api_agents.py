"""Agents through the REST API: register, heartbeat (cancellation rides back on it), the
long-polled claim, agent logs, pending reasons and the retry of crashed runs; every answer
checked against openapi.yaml, on SQLite and PostgreSQL (the ``backend`` fixture)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

# API keys on: what these tests are about.
pytestmark = pytest.mark.api_keys

#: A bound on waiting, never an expectation of speed.
PATIENCE = 20.0


async def _deployment(api, queue: str = "q1", **content: Any) -> dict[str, Any]:
    version = await api.register(**content)
    body = {"flow_id": version["flow_id"], "name": f"d-{queue}", "work_queue": queue}
    return (await api("POST", "deployments", body, expect=201)).body  # type: ignore[no-any-return]


async def _run(api, deployment: dict[str, Any], **body: Any) -> dict[str, Any]:
    body = {"parameters": {"n": 1}, **body}
    path = f"deployments/{deployment['id']}/runs"
    return (await api("POST", path, body, expect=201)).body  # type: ignore[no-any-return]


async def _agent(api, name: str = "a1", queue: str = "q1", **kw: Any) -> dict[str, Any]:
    body = {"name": name, "work_queue": queue}
    return (await api("POST", "agents", body, expect=201, **kw)).body  # type: ignore[no-any-return]


async def test_register_list_and_reregister(api) -> None:
    created = await api("POST", "agents", {"name": "a1", "work_queue": "gpu"}, expect=201)
    agent = created.body
    assert created.headers["Location"].endswith(f"agents/{agent['id']}")
    assert (agent["work_queue"], agent["status"], agent["running"]) == ("gpu", "online", 0)
    # The queue was made for it.
    await api("GET", "work-queues/gpu", expect=200)
    again = await api("POST", "agents", {"name": "a1", "work_queue": "gpu"}, expect=200)
    assert again.body["id"] == agent["id"]
    listed = (await api("GET", "agents", expect=200)).body
    assert [a["name"] for a in listed["items"]] == ["a1"]
    await api("GET", f"agents/{agent['id']}", expect=200)
    assert (await api("GET", "agents/nope", expect=404)).error == "not_found"
    bad = await api("POST", "agents", {"name": "a2", "work_queue": "has space"}, expect=400)
    assert bad.error == "invalid_input"


async def test_claim_returns_what_the_agent_needs(api) -> None:
    deployment = await _deployment(api, run_config={"retries": 2, "env": {"X": "1"}})
    run = await _run(api, deployment)
    agent = await _agent(api)
    claimed = await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]}, expect=200)
    body = claimed.body
    assert body["id"] == run["id"]
    assert body["state"]["type"] == "PENDING" and body["agent_id"] == agent["id"]
    assert body["parameters"] == {"n": 1}
    assert body["run_config"] == {"retries": 2, "env": {"X": "1"}}
    assert body["flow_version"]["id"] == run["flow_version_id"]
    assert body["attempt"] == 1
    # Nothing else to claim: 204 at once with wait 0.
    await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]}, expect=204)


async def test_a_run_records_the_infrastructure_of_the_agent_that_claimed_it(api) -> None:
    deployment = await _deployment(api)
    run = await _run(api, deployment)
    where = "kubernetes, namespace flows"
    body = {"name": "a1", "work_queue": "q1", "infrastructure": where}
    agent = (await api("POST", "agents", body, expect=201)).body
    assert agent["infrastructure"] == where
    assert (await api("GET", f"flow-runs/{run['id']}", expect=200)).body["infrastructure"] is None
    claimed = await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]}, expect=200)
    assert claimed.body["infrastructure"] == where
    # The run keeps it when the agent comes back configured elsewhere.
    moved = {**body, "infrastructure": "local process on laptop"}
    again = (await api("POST", "agents", moved, expect=200)).body
    assert again["infrastructure"] == "local process on laptop"
    assert (await api("GET", f"flow-runs/{run['id']}", expect=200)).body["infrastructure"] == where
    too_long = {**body, "infrastructure": "x" * 201}
    assert (await api("POST", "agents", too_long, expect=400)).error == "invalid_input"


@pytest.mark.parametrize(
    "body",
    [{}, {"agent_id": "x", "wait": 31}, {"agent_id": "x", "wait": -1}, {"agent_id": "x", "y": 1}],
)
async def test_bad_claims_are_400(api, body) -> None:
    await api("POST", "work-queues", {"name": "q1"}, expect=201)
    assert (await api("POST", "work-queues/q1/claim", body, expect=400)).error == "invalid_input"


async def test_claim_of_unknown_queue_or_agent_is_404(api) -> None:
    agent = await _agent(api)
    await api("POST", "work-queues/nope/claim", {"agent_id": agent["id"]}, expect=404)
    await api("POST", "work-queues/q1/claim", {"agent_id": "nope"}, expect=404)


async def test_long_poll_claims_a_run_as_soon_as_it_is_scheduled(api) -> None:
    deployment = await _deployment(api)
    agent = await _agent(api)
    claim = asyncio.ensure_future(
        api("POST", "work-queues/q1/claim", {"agent_id": agent["id"], "wait": PATIENCE})
    )
    await asyncio.sleep(0.2)  # let the claim start waiting
    assert not claim.done()
    run = await _run(api, deployment)
    answer = await asyncio.wait_for(claim, PATIENCE)
    assert answer.status == 200 and answer.body["id"] == run["id"]


async def test_long_poll_wakes_when_the_queue_is_resumed(api) -> None:
    deployment = await _deployment(api)
    await api("POST", "work-queues/q1/pause", expect=200)
    run = await _run(api, deployment)
    agent = await _agent(api)
    await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]}, expect=204)
    claim = asyncio.ensure_future(
        api("POST", "work-queues/q1/claim", {"agent_id": agent["id"], "wait": PATIENCE})
    )
    await asyncio.sleep(0.2)
    assert not claim.done()
    await api("POST", "work-queues/q1/resume", expect=200)
    answer = await asyncio.wait_for(claim, PATIENCE)
    assert answer.status == 200 and answer.body["id"] == run["id"]


async def test_long_poll_wakes_when_a_concurrency_slot_frees(api) -> None:
    await api("POST", "work-queues", {"name": "q1", "concurrency_limit": 1}, expect=201)
    deployment = await _deployment(api)
    first, second = await _run(api, deployment), await _run(api, deployment)
    agent = await _agent(api)
    body = {"agent_id": agent["id"]}
    assert (await api("POST", "work-queues/q1/claim", body, expect=200)).body["id"] == first["id"]
    claim = asyncio.ensure_future(api("POST", "work-queues/q1/claim", {**body, "wait": PATIENCE}))
    await asyncio.sleep(0.2)
    assert not claim.done()
    await api("POST", f"flow-runs/{first['id']}/state", {"type": "RUNNING"}, expect=200)
    await asyncio.sleep(0.1)
    assert not claim.done()  # Running still holds the slot
    await api("POST", f"flow-runs/{first['id']}/state", {"type": "COMPLETED"}, expect=200)
    answer = await asyncio.wait_for(claim, PATIENCE)
    assert answer.status == 200 and answer.body["id"] == second["id"]


async def test_long_poll_claims_a_future_run_when_it_falls_due(api) -> None:
    from datetime import datetime, timedelta, timezone

    deployment = await _deployment(api)
    soon = datetime.now(timezone.utc) + timedelta(seconds=1)
    run = await _run(api, deployment, scheduled_start=soon.isoformat())
    agent = await _agent(api)
    answer = await api(
        "POST", "work-queues/q1/claim", {"agent_id": agent["id"], "wait": PATIENCE}, expect=200
    )
    assert answer.body["id"] == run["id"]


async def test_long_poll_gives_up_after_wait(api) -> None:
    agent = await _agent(api)
    await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"], "wait": 0.3}, expect=204)


async def test_concurrent_long_polls_claim_each_run_once(api) -> None:
    deployment = await _deployment(api)
    agents = [await _agent(api, f"a{i}") for i in range(4)]
    claims = [
        asyncio.ensure_future(
            api("POST", "work-queues/q1/claim", {"agent_id": a["id"], "wait": 2.0})
        )
        for a in agents
    ]
    await asyncio.sleep(0.2)
    runs = [await _run(api, deployment) for _ in range(3)]
    answers = await asyncio.wait_for(asyncio.gather(*claims), PATIENCE)
    claimed = [a.body["id"] for a in answers if a.status == 200]
    assert sorted(claimed) == sorted(r["id"] for r in runs)
    assert [a.status for a in answers].count(204) == 1


async def test_heartbeat_answers_cancellations(api) -> None:
    deployment = await _deployment(api)
    agent = await _agent(api)
    path = f"agents/{agent['id']}/heartbeat"
    runs = [await _run(api, deployment) for _ in range(2)]
    for _ in runs:
        await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]}, expect=200)
    ids = [r["id"] for r in runs]
    for run_id in ids:
        await api("POST", f"flow-runs/{run_id}/state", {"type": "RUNNING"}, expect=200)
    answer = await api("POST", path, {"running": ids}, expect=200)
    assert answer.body == {"cancel": [], "fenced": []}
    await api("POST", f"flow-runs/{ids[0]}/cancel", expect=202)
    answer = await api("POST", path, {"running": ids}, expect=200)
    assert answer.body == {"cancel": [ids[0]], "fenced": []}
    gone = await api("POST", path, {"running": ["gone"]}, expect=200)
    assert gone.body == {"cancel": ["gone"], "fenced": ["gone"]}
    await api("POST", path, expect=200)  # an empty body is an idle agent's heartbeat
    await api("POST", "agents/nope/heartbeat", {"running": []}, expect=404)
    listed = (await api("GET", f"agents/{agent['id']}", expect=200)).body
    assert listed["running"] == 2


async def test_each_claim_is_an_attempt_whose_lease_fences_the_ones_before(api) -> None:
    """A crashed and retried run's first attempt can no longer report states, logs or
    heartbeats: each is refused (409 stale_attempt) or answered "fenced", nothing written."""
    deployment = await _deployment(api)
    run = await _run(api, deployment)
    agent = await _agent(api)
    first = (await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]})).body
    lease1 = first["lease"]
    assert first["attempt"] == lease1["attempt"] == 1 and lease1["flow_run_id"] == run["id"]
    assert lease1["token"] and lease1["expires_at"]
    body = {"type": "RUNNING", "lease": {k: lease1[k] for k in ("flow_run_id", "attempt", "token")}}
    await api("POST", f"flow-runs/{run['id']}/state", body, expect=200)
    # The agent lets go (offline, not listing it): Crashed, the lease ends with it.
    await api("POST", f"agents/{agent['id']}/heartbeat", {"status": "offline"}, expect=200)
    assert (await api("GET", f"flow-runs/{run['id']}")).body["state"]["type"] == "CRASHED"
    await api("POST", f"flow-runs/{run['id']}/state", {"type": "SCHEDULED"}, expect=200)
    await api("POST", "agents", {"name": "a1", "work_queue": "q1"}, expect=200)  # back
    second = (await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]})).body
    assert second["id"] == run["id"] and second["attempt"] == 2
    assert second["lease"]["token"] != lease1["token"]

    stale = {k: lease1[k] for k in ("flow_run_id", "attempt", "token")}
    refused = await api(
        "POST", f"flow-runs/{run['id']}/state", {"type": "RUNNING", "lease": stale}, expect=409
    )
    assert refused.error == "stale_attempt" and "is at attempt 2" in refused.body["message"]
    line = {
        "id": "01a00000-0000-7000-8000-000000000001",
        "flow_run_id": run["id"],
        "level": 20,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "message": "from the stale attempt",
    }
    batch = {"logs": [line], "states": [], "lease": stale}
    assert (await api("POST", "ingest", batch, expect=409)).error == "stale_attempt"
    logs = (await api("GET", f"flow-runs/{run['id']}/logs")).body
    assert logs["total"] == 0
    beat = await api("POST", f"agents/{agent['id']}/heartbeat", {"leases": [stale]}, expect=200)
    assert beat.body == {"cancel": [run["id"]], "fenced": [run["id"]]}
    current = {k: second["lease"][k] for k in ("flow_run_id", "attempt", "token")}
    beat = await api("POST", f"agents/{agent['id']}/heartbeat", {"leases": [current]}, expect=200)
    assert beat.body == {"cancel": [], "fenced": []}
    batch = {"logs": [line], "lease": current}
    assert (await api("POST", "ingest", batch, expect=200)).body["logs"] == 1


async def test_offline_heartbeat_hands_back_what_did_not_start(api) -> None:
    deployment = await _deployment(api)
    agent = await _agent(api)
    started, claimed = await _run(api, deployment), await _run(api, deployment)
    for _ in range(2):
        await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]}, expect=200)
    await api("POST", f"flow-runs/{started['id']}/state", {"type": "RUNNING"}, expect=200)
    body = {"running": [started["id"]], "status": "offline"}
    await api("POST", f"agents/{agent['id']}/heartbeat", body, expect=200)
    assert (await api("GET", f"flow-runs/{claimed['id']}")).body["state"]["type"] == "SCHEDULED"
    assert (await api("GET", f"flow-runs/{started['id']}")).body["state"]["type"] == "RUNNING"
    assert (await api("GET", f"agents/{agent['id']}")).body["status"] == "offline"


async def test_agent_logs(api) -> None:
    agent = await _agent(api)
    path = f"agents/{agent['id']}/logs"
    lines = [
        {"level": "INFO", "timestamp": "2026-01-01T00:00:00+00:00", "message": "started"},
        {"level": 40, "timestamp": "2026-01-01T00:00:01+00:00", "message": "oops", "name": "x"},
    ]
    assert (await api("POST", path, lines, expect=201)).body == {"count": 2}
    page = (await api("GET", path, expect=200)).body
    assert [line["message"] for line in page["items"]] == ["started", "oops"]
    errors = (await api("GET", path, params={"level": "ERROR"}, expect=200)).body
    assert [line["message"] for line in errors["items"]] == ["oops"]
    bad = [{"timestamp": "2026-01-01T00:00:00", "message": "naive"}]
    assert (await api("POST", path, bad, expect=400)).error == "invalid_input"
    await api("POST", "agents/nope/logs", lines, expect=404)


async def test_agent_key_may_claim_but_not_manage_queues(api) -> None:
    key = (await api("POST", "api-keys", {"name": "ag", "role": "agent"}, expect=201)).body
    headers = {"Authorization": f"Bearer {key['token']}"}
    deployment = await _deployment(api)
    run = await _run(api, deployment)
    agent = await _agent(api, headers=headers)
    body = {"agent_id": agent["id"]}
    claimed = await api("POST", "work-queues/q1/claim", body, headers=headers, expect=200)
    assert claimed.body["id"] == run["id"]
    await api("POST", f"agents/{agent['id']}/heartbeat", {}, headers=headers, expect=200)
    await api("GET", f"flow-runs/{run['id']}/pending-reason", headers=headers, expect=200)
    await api("POST", "work-queues/q1/pause", headers=headers, expect=403)
    await api("GET", "work-queues/q1/preview", headers=headers, expect=200)  # it serves q1
    await api("POST", "work-queues", {"name": "q2"}, expect=201)
    await api("GET", "work-queues/q2/preview", headers=headers, expect=403)


async def test_pending_reasons(api) -> None:
    await api("POST", "work-queues", {"name": "q1", "concurrency_limit": 1}, expect=201)
    deployment = await _deployment(api)
    first, second = await _run(api, deployment), await _run(api, deployment)

    async def reason(run: dict[str, Any]) -> str | None:
        answer = await api("GET", f"flow-runs/{run['id']}/pending-reason", expect=200)
        return answer.body["pending_reason"]  # type: ignore[no-any-return]

    assert await reason(first) == "no agent is polling work queue 'q1'"
    agent = await _agent(api, "worker-1")
    await api("POST", "work-queues/q1/claim", {"agent_id": agent["id"]}, expect=200)
    assert await reason(first) == "claimed by agent 'worker-1'; its infrastructure is starting"
    pod = {"type": "PENDING", "message": "pod pending: ImagePullBackOff"}
    await api("POST", f"flow-runs/{first['id']}/state", pod, expect=200)
    assert await reason(first) == "claimed by agent 'worker-1'; pod pending: ImagePullBackOff"
    held = await reason(second)
    assert held is not None and held.startswith("concurrency limit 1 reached, held by")
    assert first["name"] in held
    await api("POST", "work-queues/q1/pause", expect=200)
    assert await reason(second) == "work queue 'q1' is paused"
    await api("POST", f"flow-runs/{first['id']}/state", {"type": "RUNNING"}, expect=200)
    answer = await api("GET", f"flow-runs/{first['id']}/pending-reason", expect=200)
    assert answer.body["due"] is False and answer.body["pending_reason"] is None
    await api("GET", "flow-runs/nope/pending-reason", expect=404)


async def test_a_crashed_run_is_retried_through_its_queue(api) -> None:
    deployment = await _deployment(api, run_config={"retries": 1})
    run = await _run(api, deployment)
    agent = await _agent(api)
    body = {"agent_id": agent["id"]}
    for attempt in (1, 2):
        claimed = await api("POST", "work-queues/q1/claim", body, expect=200)
        assert claimed.body["attempt"] == attempt
        await api("POST", f"flow-runs/{run['id']}/state", {"type": "RUNNING"}, expect=200)
        crash = {"type": "CRASHED", "message": "process killed by signal 9"}
        answer = await api("POST", f"flow-runs/{run['id']}/state", crash, expect=200)
        expected = "SCHEDULED" if attempt == 1 else "CRASHED"
        assert answer.body["state"]["type"] == expected
    final = (await api("GET", f"flow-runs/{run['id']}")).body
    assert final["state"]["type"] == "CRASHED" and final["run_count"] == 2
    names = [s["name"] for s in (await api("GET", f"flow-runs/{run['id']}/states")).body["items"]]
    assert "AwaitingRetry" in names
