"""Deployments: CRUD, schedules, pause/resume and runs with checked parameters."""

from __future__ import annotations

import pytest

from jupyter_flows.store import Database
from jupyter_flows.store import deployments as store_deployments

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


# ------------------------------------------------------------ PUT flows/{id}/deployments/{name}

HOURLY = {"interval_seconds": 3600, "anchor": "2026-01-01T00:00:00+00:00"}


async def test_ensure_creates_a_deployment_with_the_defaults(api) -> None:
    version = await api.register()
    path = f"flows/{version['flow_id']}/deployments/nightly"
    made = await api("PUT", path, {"work_queue": "gpu", "schedule": HOURLY}, expect=201)
    assert made.headers["Location"].endswith(f"/api/flows/deployments/{made.body['id']}")
    assert made.body["name"] == "nightly" and made.body["flow_id"] == version["flow_id"]
    assert made.body["work_queue"] == "gpu" and made.body["schedule"] == HOURLY
    assert made.body["version_policy"] == "latest" and made.body["paused"] is False

    # No body: the queue "default", no schedule.
    bare = await api("PUT", f"flows/{version['flow_id']}/deployments/adhoc", expect=201)
    assert bare.body["work_queue"] == "default" and bare.body["schedule"] is None
    got = await api("GET", f"deployments/{made.body['id']}", expect=200)
    assert got.body == made.body


async def test_ensure_changes_only_what_is_given(api) -> None:
    version = await api.register()
    path = f"flows/{version['flow_id']}/deployments/nightly"
    made = (await api("PUT", path, {"work_queue": "gpu", "schedule": HOURLY}, expect=201)).body

    moved = (await api("PUT", path, {"work_queue": "cpu"}, expect=200)).body
    assert moved["id"] == made["id"]
    assert moved["work_queue"] == "cpu" and moved["schedule"] == HOURLY  # schedule kept
    cron = {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}
    rescheduled = (await api("PUT", path, {"schedule": cron}, expect=200)).body
    assert rescheduled["schedule"] == cron and rescheduled["work_queue"] == "cpu"
    kept = (await api("PUT", path, {"schedule": None, "work_queue": None}, expect=200)).body
    assert kept == rescheduled  # null is "keep", as an omitted field
    listed = (await api("GET", "deployments", params={"flow_id": version["flow_id"]})).body
    assert listed["total"] == 1


async def test_ensure_is_idempotent(api, flows_db_url: str) -> None:
    version = await api.register()
    path = f"flows/{version['flow_id']}/deployments/nightly"
    body = {"work_queue": "gpu", "schedule": HOURLY}
    made = (await api("PUT", path, body, expect=201)).body
    with Database(flows_db_url) as db, db.transaction() as session:
        (schedule,) = store_deployments.read_schedules(session, made["id"])
        schedule_id = schedule.id
    again = (await api("PUT", path, body, expect=200)).body
    assert again == made  # not even its updated time moved
    # An interval without an anchor is the same schedule: its slots do not shift.
    same = (await api("PUT", path, {"schedule": {"interval_seconds": 3600}}, expect=200)).body
    assert same == made
    with Database(flows_db_url) as db, db.transaction() as session:
        (schedule,) = store_deployments.read_schedules(session, made["id"])
        assert schedule.id == schedule_id  # never replaced, so its Scheduled runs stay


async def test_ensure_of_an_unknown_flow_is_404(api) -> None:
    answer = await api("PUT", f"flows/{UNKNOWN}/deployments/nightly", {}, expect=404)
    assert answer.error == "not_found" and UNKNOWN in answer.body["message"]
    assert (await api("GET", "deployments")).body["total"] == 0


@pytest.mark.parametrize(
    ("name", "body", "needle"),
    [
        ("d", {"colour": "red"}, "colour: unknown field"),
        ("d", {"work_queue": ""}, "work_queue"),
        ("d", {"schedule": {"cron": "every day"}}, "cron"),
        ("d", {"schedule": {"interval_seconds": 0}}, "schedule"),
        ("d", {"schedule": {"cron": "0 9 * * *", "timezone": "Mars/Base"}}, "timezone"),
        ("d" * 201, {}, "name"),
    ],
)
async def test_bad_ensure_requests_are_400_and_change_nothing(api, name, body, needle) -> None:
    version = await api.register()
    path = f"flows/{version['flow_id']}/deployments/{name}"
    answer = await api("PUT", path, body, expect=400)
    assert answer.error == "invalid_input" and needle in answer.body["message"]
    bad_json = await api("PUT", f"flows/{version['flow_id']}/deployments/d", raw="{", expect=400)
    assert bad_json.error == "invalid_input"
    assert (await api("GET", "deployments")).body["total"] == 0


async def test_ensure_finds_its_deployment_among_many(api, flows_db_url: str) -> None:
    """The lookup is by (flow, name), not a scan of the first page of the flow's deployments."""
    version = await api.register()
    flow_id = version["flow_id"]
    with Database(flows_db_url) as db, db.transaction() as session:
        for i in range(600):
            store_deployments.create_deployment(session, flow_group_id=flow_id, name=f"d{i:03}")
    path = f"flows/{flow_id}/deployments/zz-last"
    made = (await api("PUT", path, {"work_queue": "gpu"}, expect=201)).body
    again = (await api("PUT", path, {"work_queue": "cpu"}, expect=200)).body
    assert again["id"] == made["id"] and again["work_queue"] == "cpu"
    listed = await api("GET", "deployments", params={"flow_id": flow_id, "limit": "1"})
    assert listed.body["total"] == 601


async def test_a_run_request_with_no_body_takes_the_defaults_and_a_blank_one_is_refused(
    api,
) -> None:
    _, dep = await _deployment(api, parameters={"n": 1})
    path = f"deployments/{dep['id']}/runs"
    blank = await api("POST", path, raw="\r\n", expect=400)  # not JSON: nothing is made
    assert blank.error == "invalid_input"
    assert (await api("GET", "flow-runs")).body["total"] == 0
    made = await api("POST", path, raw="", expect=201)
    assert made.body["parameters"] == {"n": 1}
