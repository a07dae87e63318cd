"""Deployments: CRUD, schedules, pause/resume and runs with checked parameters."""

from __future__ import annotations

import pytest

UNKNOWN = "00000000-0000-0000-0000-000000000000"


async def _deployment(api, **fields):
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "nightly", **fields}
    return version, (await api("POST", "deployments", body, expect=201)).body


async def test_unknown_deployment_is_404(api) -> None:
    for method, path in [
        ("GET", f"deployments/{UNKNOWN}"),
        ("PATCH", f"deployments/{UNKNOWN}"),
        ("DELETE", f"deployments/{UNKNOWN}"),
        ("POST", f"deployments/{UNKNOWN}/pause"),
        ("POST", f"deployments/{UNKNOWN}/resume"),
        ("POST", f"deployments/{UNKNOWN}/runs"),
    ]:
        body = {"paused": True} if method == "PATCH" else None
        answer = await (api(method, path, body) if body else api(method, path))
        assert answer.status == 404, (method, path, answer.body)
    answer = await api("POST", "deployments", {"flow_id": UNKNOWN, "name": "d"}, expect=404)
    assert answer.error == "not_found"


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"schedule": {"cron": "every day"}}, "cron"),
        ({"schedule": {"interval_seconds": -5}}, "schedule"),
        ({"schedule": {"cron": "0 9 * * *", "timezone": "Mars/Base"}}, "timezone"),
        ({"version_policy": "pinned"}, "pinned"),
        ({"version_policy": "sometimes"}, "version_policy"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
async def test_bad_deployments_are_400_and_create_nothing(api, fields, needle) -> None:
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "d", **fields}
    answer = await api("POST", "deployments", body, expect=400)
    assert needle in answer.body["message"]
    assert (await api("GET", "deployments")).body["total"] == 0


async def test_default_parameters_of_the_wrong_type_are_invalid_parameters(api) -> None:
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": "d", "parameters": {"n": "ten"}}
    answer = await api("POST", "deployments", body, expect=400)
    assert answer.error == "invalid_parameters" and "'n'" in answer.body["message"]


async def test_duplicate_name_is_409(api) -> None:
    version, _ = await _deployment(api)
    body = {"flow_id": version["flow_id"], "name": "nightly"}
    assert (await api("POST", "deployments", body, expect=409)).error == "conflict"


async def test_create_read_update_delete(api) -> None:
    version, dep = await _deployment(
        api,
        parameters={"n": 3},
        tags=["t"],
        work_queue="gpu",
        schedule={"interval_seconds": 3600, "anchor": "2026-01-01T00:00:00+00:00"},
    )
    assert dep["work_queue"] == "gpu" and dep["schedule"]["interval_seconds"] == 3600
    got = (await api("GET", f"deployments/{dep['id']}", expect=200)).body
    assert got == dep
    listed = (await api("GET", "deployments", params={"flow_id": version["flow_id"]})).body
    assert [d["id"] for d in listed["items"]] == [dep["id"]]

    patched = (
        await api(
            "PATCH",
            f"deployments/{dep['id']}",
            {"schedule": {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}, "tags": []},
            expect=200,
        )
    ).body
    assert patched["schedule"] == {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}
    assert patched["tags"] == [] and patched["parameters"] == {"n": 3}
    pinned = await api(
        "PATCH",
        f"deployments/{dep['id']}",
        {"version_policy": "pinned", "version_id": version["id"], "schedule": None},
        expect=200,
    )
    assert pinned.body["version_id"] == version["id"] and pinned.body["schedule"] is None
    bad = await api("PATCH", f"deployments/{dep['id']}", {"name": None}, expect=400)
    assert "name" in bad.body["message"]

    await api("DELETE", f"deployments/{dep['id']}", expect=204)
    await api("GET", f"deployments/{dep['id']}", expect=404)


async def test_runs_check_parameters_against_the_flow_version(api) -> None:
    _, dep = await _deployment(api, parameters={"label": "x"})
    path = f"deployments/{dep['id']}/runs"

    missing = await api("POST", path, {}, expect=400)
    assert missing.error == "invalid_parameters" and "'n'" in missing.body["message"]
    wrong = await api("POST", path, {"parameters": {"n": "one"}}, expect=400)
    assert "'n'" in wrong.body["message"]
    unknown = await api("POST", path, {"parameters": {"n": 1, "zz": 2}}, expect=400)
    assert "'zz'" in unknown.body["message"]
    misspelt = await api("POST", path, {"parameters": {"n": 1, "lable": "y"}}, expect=400)
    assert misspelt.body["message"] == (
        "parameter 'lable' is not a parameter of this flow (did you mean 'label'?); "
        "its parameters are: label, n"
    )
    assert (await api("GET", "flow-runs")).body["total"] == 0

    run = await api(
        "POST",
        path,
        {"parameters": {"n": 1}, "scheduled_start": "2030-01-01T00:00:00+00:00"},
        expect=201,
    )
    assert run.headers["Location"].endswith(f"flow-runs/{run.body['id']}")
    assert run.body["state"]["type"] == "SCHEDULED"
    assert run.body["parameters"] == {"label": "x", "n": 1}
    assert run.body["expected_start_time"] == "2030-01-01T00:00:00+00:00"
    assert run.body["work_queue"] == "default" and run.body["deployment_id"] == dep["id"]


async def test_pause_and_resume(api) -> None:
    _, dep = await _deployment(api)
    paused = (await api("POST", f"deployments/{dep['id']}/pause", expect=200)).body
    assert paused["paused"] is True
    resumed = (await api("POST", f"deployments/{dep['id']}/resume", expect=200)).body
    assert resumed["paused"] is False
