"""Work queues (by name, preview with pending reasons) and API keys."""

from __future__ import annotations

import pytest


async def test_unknown_queue_is_404(api) -> None:
    for method, path in [
        ("GET", "work-queues/nope"),
        ("DELETE", "work-queues/nope"),
        ("POST", "work-queues/nope/pause"),
        ("GET", "work-queues/nope/preview"),
    ]:
        assert (await api(method, path)).status == 404
    assert (await api("PATCH", "work-queues/nope", {"paused": True})).status == 404


@pytest.mark.parametrize(
    "body",
    [{"name": "has space"}, {"name": "q", "concurrency_limit": -1}, {"name": "q", "x": 1}],
)
async def test_bad_queues_are_400(api, body) -> None:
    assert (await api("POST", "work-queues", body, expect=400)).error == "invalid_input"


async def test_queue_crud_and_name_conflict(api) -> None:
    created = await api(
        "POST", "work-queues", {"name": "gpu", "tags": ["cuda"], "concurrency_limit": 1}, expect=201
    )
    assert created.headers["Location"].endswith("work-queues/gpu")
    assert (await api("POST", "work-queues", {"name": "gpu"}, expect=409)).error == "conflict"
    patched = await api("PATCH", "work-queues/gpu", {"concurrency_limit": None}, expect=200)
    assert patched.body["concurrency_limit"] is None and patched.body["tags"] == ["cuda"]
    paused = await api("POST", "work-queues/gpu/pause", expect=200)
    assert paused.body["paused"] is True
    listed = (await api("GET", "work-queues", expect=200)).body
    assert [q["name"] for q in listed["items"]] == ["gpu"]
    await api("DELETE", "work-queues/gpu", expect=204)
    await api("GET", "work-queues/gpu", expect=404)


async def test_preview_says_why_due_runs_wait(api) -> None:
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "d", "work_queue": "q1"}
    dep = (await api("POST", "deployments", body, expect=201)).body
    await api("POST", f"deployments/{dep['id']}/runs", {"parameters": {"n": 1}}, expect=201)
    later = {"parameters": {"n": 2}, "scheduled_start": "2099-01-01T00:00:00+00:00"}
    await api("POST", f"deployments/{dep['id']}/runs", later, expect=201)

    items = (await api("GET", "work-queues/q1/preview", expect=200)).body["items"]
    assert [(i["due"], i["pending_reason"]) for i in items] == [
        (True, "no agent is polling work queue 'q1'"),
        (False, None),
    ]
    await api("POST", "work-queues/q1/pause", expect=200)
    items = (await api("GET", "work-queues/q1/preview", expect=200)).body["items"]
    assert items[0]["pending_reason"] == "work queue 'q1' is paused"


async def test_api_keys(api) -> None:
    assert (await api("POST", "api-keys", {"name": "k", "role": "root"}, expect=400)).error
    created = (await api("POST", "api-keys", {"name": "ci", "role": "agent"}, expect=201)).body
    assert created["token"].startswith("jf_") and created["role"] == "agent"
    listed = (await api("GET", "api-keys", expect=200)).body
    assert [k["name"] for k in listed["items"]] == ["ci"]
    assert "token" not in listed["items"][0]
    await api("DELETE", f"api-keys/{created['id']}", expect=204)
    await api("DELETE", f"api-keys/{created['id']}", expect=404)
    assert (await api("GET", "api-keys")).body["total"] == 0
