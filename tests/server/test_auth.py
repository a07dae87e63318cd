"""The team server's auth: API keys (user, agent) beside the server's own token.

The server runs with the standalone's identity provider and authorizer; the fixture's
Jupyter token stays the admin credential that creates keys.
"""

from __future__ import annotations

import uuid

import pytest

from jupyter_flows.store import Database
from jupyter_flows.store.keys import revoke_api_key

# API keys on: what these tests are about.
pytestmark = pytest.mark.api_keys


async def _key(api, role: str) -> dict[str, str]:
    key = (await api("POST", "api-keys", {"name": role, "role": role}, expect=201)).body
    return {"Authorization": f"Bearer {key['token']}"}


async def test_no_key_or_a_wrong_key_is_401(api) -> None:
    for headers, says in (
        ({"Authorization": ""}, "authentication required"),
        ({"Authorization": "Bearer jf_not-a-key"}, "the API key sent was refused"),
        ({"Authorization": "token wrong"}, "the token sent was refused"),
    ):
        answer = await api("GET", "flow-runs", headers=headers, expect=401)
        assert answer.error == "unauthorized" and answer.body["message"].startswith(says)
        answer = await api("POST", "ingest", {}, headers=headers, expect=401)
        assert answer.error == "unauthorized" and answer.body["message"].startswith(says)


async def test_agent_key_on_a_user_endpoint_is_403(api) -> None:
    agent = await _key(api, "agent")
    for method, path, body in [
        ("POST", "flows", {"name": "x", "content": {}}),
        ("GET", "flows", None),
        ("POST", "deployments", {"flow_id": "f", "name": "d"}),
        ("POST", "api-keys", {"name": "mine", "role": "user"}),
        ("GET", "work-queues", None),
        ("POST", "flow-runs", {"flow_name": "x"}),
    ]:
        answer = await (
            api(method, path, body, headers=agent) if body else api(method, path, headers=agent)
        )
        assert answer.status == 403, (method, path, answer.body)
        assert answer.error == "forbidden"
    assert (await api("GET", "flows")).body["total"] == 0  # nothing was changed


async def test_agent_key_does_agent_things_for_the_runs_its_agent_holds(api) -> None:
    agent = await _key(api, "agent")
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "d", "work_queue": "q1"}
    deployment = (await api("POST", "deployments", body, expect=201)).body
    path = f"deployments/{deployment['id']}/runs"
    run = (await api("POST", path, {"parameters": {"n": 1}}, expect=201)).body
    me = (await api("POST", "agents", {"name": "a", "work_queue": "q1"}, headers=agent)).body
    claim = {"agent_id": me["id"]}
    claimed = (await api("POST", "work-queues/q1/claim", claim, headers=agent, expect=200)).body
    lease = {k: claimed["lease"][k] for k in ("flow_run_id", "attempt", "token")}
    await api("GET", f"flow-runs/{run['id']}", headers=agent, expect=200)
    await api("GET", "flow-runs", headers=agent, expect=403)  # no list of every run
    state = {"type": "RUNNING", "lease": lease}
    await api("POST", f"flow-runs/{run['id']}/state", state, headers=agent, expect=200)
    no_lease = {"type": "RUNNING"}
    await api("POST", f"flow-runs/{run['id']}/state", no_lease, headers=agent, expect=403)
    task = {"flow_run_id": run["id"], "task_key": "t"}
    await api("POST", "task-runs", task, headers=agent, expect=201)
    line = {"flow_run_id": run["id"], "timestamp": "2026-01-01T00:00:00Z", "message": "m"}
    await api("POST", "logs", [line], headers=agent, expect=201)
    result = await api("POST", "ingest", {"logs": [line], "lease": lease}, headers=agent)
    assert result.status == 200 and result.body["logs"] == 1


async def test_agent_key_creates_no_run_and_touches_no_run_it_does_not_hold(api) -> None:
    """Finding 3 of the security review: an agent key created runs through ingest and read
    every run; now it reports one held run (its lease) and that run's subflows alone."""
    agent = await _key(api, "agent")
    other = await api.adhoc_run()
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "d", "work_queue": "q1"}
    deployment = (await api("POST", "deployments", body, expect=201)).body
    path = f"deployments/{deployment['id']}/runs"
    run = (await api("POST", path, {"parameters": {"n": 1}}, expect=201)).body
    me = (await api("POST", "agents", {"name": "a", "work_queue": "q1"}, headers=agent)).body
    claim = {"agent_id": me["id"]}
    claimed = (await api("POST", "work-queues/q1/claim", claim, headers=agent, expect=200)).body
    lease = {k: claimed["lease"][k] for k in ("flow_run_id", "attempt", "token")}
    new_run = {"id": str(uuid.uuid4()), "flow_name": "sneaky"}
    for batch in (
        {"flow_runs": [new_run]},  # no lease
        {"flow_runs": [new_run], "lease": lease},  # a top-level run
        {"logs": [_line(other["id"])], "lease": lease},  # a run it does not hold
    ):
        answer = await api("POST", "ingest", batch, headers=agent, expect=403)
        assert answer.error == "forbidden"
    await api("POST", "flow-runs", {"flow_name": "x"}, headers=agent, expect=403)
    await api("GET", f"flow-runs/{other['id']}", headers=agent, expect=403)
    await api("GET", f"flow-runs/{other['id']}/logs", headers=agent, expect=403)
    await api("POST", "logs", [_line(other["id"])], headers=agent, expect=403)
    await api("GET", "logs", headers=agent, expect=403)
    # A subflow of the held run is its own work: it may create it and report into it.
    sub = {"id": str(uuid.uuid4()), "flow_name": "child", "parent_flow_run_id": run["id"]}
    batch = {"flow_runs": [sub], "logs": [_line(sub["id"])], "lease": lease}
    answer = await api("POST", "ingest", batch, headers=agent, expect=200)
    assert answer.body["flow_runs"] == 1 and answer.body["logs"] == 1
    await api("GET", f"flow-runs/{sub['id']}", headers=agent, expect=200)
    assert (await api("GET", "flow-runs")).body["total"] == 3  # no other run was made


async def test_an_agent_key_acts_only_as_the_agents_it_registered(api) -> None:
    mine, theirs = await _key(api, "agent"), await _key(api, "agent")
    agent = (await api("POST", "agents", {"name": "a"}, headers=mine, expect=201)).body
    beat = f"agents/{agent['id']}/heartbeat"
    await api("POST", beat, {"status": "offline"}, headers=theirs, expect=403)
    await api("POST", beat, {}, headers=mine, expect=200)
    claim = {"agent_id": agent["id"]}
    await api("POST", "work-queues/default/claim", claim, headers=theirs, expect=403)
    await api("POST", f"agents/{agent['id']}/logs", [], headers=theirs, expect=403)
    await api("POST", "agents", {"name": "a"}, headers=theirs, expect=403)  # not a takeover
    assert (await api("GET", f"agents/{agent['id']}")).body["status"] == "online"


def _line(run_id: str) -> dict[str, str]:
    return {"flow_run_id": run_id, "timestamp": "2026-01-01T00:00:00Z", "message": "m"}


async def test_user_key_does_everything_and_revoking_stops_it_at_once(api) -> None:
    user = await _key(api, "user")
    await api.register()
    await api("GET", "flows", headers=user, expect=200)
    made = await api("POST", "api-keys", {"name": "other"}, headers=user, expect=201)
    other = {"Authorization": f"Bearer {made.body['token']}"}
    await api("GET", "flows", headers=other, expect=200)
    await api("DELETE", f"api-keys/{made.body['id']}", headers=user, expect=204)
    await api("GET", "flows", headers=other, expect=401)


async def test_a_key_revoked_by_another_server_stops_within_the_cache_time(
    api, jp_serverapp, flows_db_url: str
) -> None:
    user = await _key(api, "user")
    key_id = (await api("GET", "api-keys")).body["items"][0]["id"]
    provider = jp_serverapp.identity_provider
    provider.key_cache_seconds = 3600.0
    await api("GET", "flows", headers=user, expect=200)  # verified once, now trusted
    other_server = Database(flows_db_url)
    with other_server.transaction() as session:
        revoke_api_key(session, key_id)
    other_server.dispose()
    await api("GET", "flows", headers=user, expect=200)  # still trusted here
    provider.key_cache_seconds = 0.0
    provider.forget_keys()  # what the cache time running out amounts to
    await api("GET", "flows", headers=user, expect=401)


async def test_keys_cannot_reach_the_rest_of_the_jupyter_server(jp_fetch, api) -> None:
    user = await _key(api, "user")
    response = await jp_fetch("api", "contents", headers=user, raise_error=False)
    assert response.code == 403
