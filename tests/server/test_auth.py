"""The team server's auth: API keys (user, agent) beside the server's own token.

The server runs with the standalone's identity provider and authorizer; the fixture's
Jupyter token stays the admin credential that creates keys.
"""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_flows.server.auth import FlowsAuthorizer, FlowsIdentityProvider
from jupyter_flows.store import Database
from jupyter_flows.store.keys import revoke_api_key


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    config = dict(jp_server_config)
    config["ServerApp"] = {
        **config["ServerApp"],
        "identity_provider_class": FlowsIdentityProvider,
        "authorizer_class": FlowsAuthorizer,
    }
    return config


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


async def test_agent_key_does_agent_things(api) -> None:
    agent = await _key(api, "agent")
    run = await api.adhoc_run()
    await api("GET", f"flow-runs/{run['id']}", headers=agent, expect=200)
    await api("GET", "flow-runs", headers=agent, expect=200)
    await api(
        "POST", f"flow-runs/{run['id']}/state", {"type": "PENDING"}, headers=agent, expect=200
    )
    task = {"flow_run_id": run["id"], "task_key": "t"}
    await api("POST", "task-runs", task, headers=agent, expect=201)
    line = {"flow_run_id": run["id"], "timestamp": "2026-01-01T00:00:00Z", "message": "m"}
    await api("POST", "logs", [line], headers=agent, expect=201)
    result = await api("POST", "ingest", {"logs": [line]}, headers=agent, expect=200)
    assert result.body["logs"] == 1


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
