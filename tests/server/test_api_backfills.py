"""Backfills through the API: preview, create (201), the same again (200), read, cancel."""

from __future__ import annotations

UNKNOWN = "00000000-0000-0000-0000-000000000000"
WINDOW = {"start": "2026-05-01T00:00:00Z", "end": "2026-05-01T05:00:00Z"}


async def _deployment(api) -> dict:
    version = await api.register()
    body = {
        "flow_id": version["flow_id"],
        "name": "hourly",
        "parameters": {"n": 1},
        "schedule": {"cron": "0 * * * *", "timezone": "UTC"},
    }
    return (await api("POST", "deployments", body, expect=201)).body


async def test_preview_create_repeat_read_and_cancel(api) -> None:
    deployment = await _deployment(api)
    path = f"deployments/{deployment['id']}/backfills"

    preview = (await api("POST", path, {**WINDOW, "dry_run": True}, expect=200)).body
    assert preview["dry_run"] is True and preview["total"] == preview["new"] == 6
    assert preview["items"][0]["slot"].startswith("2026-05-01T00:00:00")
    listed = await api("GET", "flow-runs", params={"deployment_id": deployment["id"]})
    assert listed.body["total"] == 0

    created = await api("POST", path, {**WINDOW, "max_concurrent": 2}, expect=201)
    backfill = created.body
    assert created.headers["Location"].endswith(f"backfills/{backfill['id']}")
    assert backfill["status"] == "running" and backfill["total"] == 6 and backfill["runs"] == 2
    assert backfill["states"] == {"SCHEDULED": 2}
    made = await api("GET", "flow-runs", params={"backfill_id": backfill["id"]})
    assert made.body["total"] == 2
    assert {run["backfill_id"] for run in made.body["items"]} == {backfill["id"]}
    other = await api("GET", "flow-runs", params={"backfill_id": UNKNOWN})
    assert other.body["total"] == 0

    made = await api("GET", "flow-runs", params={"deployment_id": deployment["id"]})
    assert {run["trigger"] for run in made.body["items"]} == {"backfill"}

    again = await api("POST", path, WINDOW, expect=200)
    assert again.body["id"] == backfill["id"] and again.body["runs"] == 2

    read = (await api("GET", f"backfills/{backfill['id']}", expect=200)).body
    assert read["planned"] == 2
    cancelled = (await api("POST", f"backfills/{backfill['id']}/cancel", expect=200)).body
    assert cancelled["status"] == "cancelled" and cancelled["states"] == {"CANCELLED": 2}


async def test_a_deployments_backfills_newest_first(api) -> None:
    deployment = await _deployment(api)
    path = f"deployments/{deployment['id']}/backfills"
    assert (await api("GET", path, expect=200)).body["total"] == 0
    first = (await api("POST", path, WINDOW, expect=201)).body
    values = {"parameter": "n", "values": [5, 6]}
    second = (await api("POST", path, values, expect=201)).body
    listed = (await api("GET", path, expect=200)).body
    assert listed["total"] == 2
    assert [b["id"] for b in listed["items"]] == [second["id"], first["id"]]
    assert listed["items"][0]["states"] == {"SCHEDULED": 2}
    page = (await api("GET", path, params={"limit": 1, "offset": 1}, expect=200)).body
    assert [b["id"] for b in page["items"]] == [first["id"]]
    await api("GET", f"deployments/{UNKNOWN}/backfills", expect=404)


async def test_bad_backfills(api) -> None:
    deployment = await _deployment(api)
    path = f"deployments/{deployment['id']}/backfills"
    await api("POST", f"deployments/{UNKNOWN}/backfills", WINDOW, expect=404)
    await api("GET", f"backfills/{UNKNOWN}", expect=404)
    await api("POST", f"backfills/{UNKNOWN}/cancel", expect=404)
    for body in (
        {},
        {"start": WINDOW["start"]},
        {**WINDOW, "parameter": "n", "values": [1]},
        {"parameter": "n", "values": []},
        {**WINDOW, "max_concurrent": 0},
    ):
        answer = await api("POST", path, body, expect=400)
        assert answer.error == "invalid_input", body
    answer = await api("POST", path, {"parameter": "n", "values": ["x"]}, expect=400)
    assert answer.error == "invalid_parameters"
