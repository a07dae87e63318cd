"""Flow runs and task runs: creation, reads, the state machine over HTTP, cancel, delete."""

from __future__ import annotations

import pytest

from tests.server.conftest import T0, ts

UNKNOWN = "00000000-0000-0000-0000-000000000000"


async def test_unknown_run_ids_are_404(api) -> None:
    for method, path, body in [
        ("GET", f"flow-runs/{UNKNOWN}", None),
        ("DELETE", f"flow-runs/{UNKNOWN}", None),
        ("POST", f"flow-runs/{UNKNOWN}/state", {"type": "RUNNING"}),
        ("GET", f"flow-runs/{UNKNOWN}/states", None),
        ("POST", f"flow-runs/{UNKNOWN}/cancel", None),
        ("GET", f"flow-runs/{UNKNOWN}/task-runs", None),
        ("GET", f"flow-runs/{UNKNOWN}/logs", None),
        ("GET", f"flow-runs/{UNKNOWN}/logs/download", None),
        ("GET", f"task-runs/{UNKNOWN}", None),
        ("POST", f"task-runs/{UNKNOWN}/state", {"type": "RUNNING"}),
        ("POST", "task-runs", {"flow_run_id": UNKNOWN, "task_key": "t"}),
        ("POST", "flow-runs", {"flow_name": "x", "parent_flow_run_id": UNKNOWN}),
        ("POST", "flow-runs", {"flow_id": UNKNOWN}),
    ]:
        answer = await (api(method, path, body) if body else api(method, path))
        assert answer.status == 404, (method, path, answer.body)
        assert answer.error == "not_found"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"flow_name": "x", "wat": 1}, "wat: unknown field"),
        ({}, "flow_name or flow_id"),
        ({"flow_name": "x", "tags": "a"}, "tags"),
        ({"flow_name": "x", "state": {"type": "BOGUS"}}, "state.type"),
        (
            {"flow_name": "x", "state": {"type": "PENDING", "timestamp": "2026-01-01T00:00"}},
            "timezone",
        ),
    ],
)
async def test_bad_flow_run_bodies_are_400(api, body, needle) -> None:
    answer = await api("POST", "flow-runs", body, expect=400)
    assert needle in answer.body["message"]
    assert (await api("GET", "flow-runs")).body["total"] == 0


async def test_a_run_cannot_start_in_a_final_state(api) -> None:
    answer = await api(
        "POST", "flow-runs", {"flow_name": "x", "state": {"type": "COMPLETED"}}, expect=409
    )
    assert answer.error == "illegal_transition"
    assert (await api("GET", "flow-runs")).body["total"] == 0


async def test_illegal_transition_is_409_and_changes_nothing(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING", "timestamp": T0})
    await api(
        "POST", f"flow-runs/{run['id']}/state", {"type": "RUNNING", "timestamp": ts(1)}, expect=200
    )
    await api(
        "POST",
        f"flow-runs/{run['id']}/state",
        {"type": "COMPLETED", "timestamp": ts(2)},
        expect=200,
    )
    before = (await api("GET", f"flow-runs/{run['id']}")).body

    answer = await api("POST", f"flow-runs/{run['id']}/state", {"type": "RUNNING"}, expect=409)

    assert answer.error == "illegal_transition"
    assert "COMPLETED -> RUNNING" in answer.body["message"]
    after = (await api("GET", f"flow-runs/{run['id']}")).body
    assert after == before
    history = (await api("GET", f"flow-runs/{run['id']}/states")).body
    assert [s["type"] for s in history["items"]] == ["PENDING", "RUNNING", "COMPLETED"]


async def test_a_run_moves_through_its_states_with_timings(api) -> None:
    run = await api.adhoc_run(name="nightly", parameters={"n": 1}, tags=["a"])
    assert run["state"] is None and run["flow_name"] == "adhoc"
    for i, state in enumerate(["PENDING", "RUNNING", "COMPLETED"]):
        body = {"type": state, "timestamp": ts(10 * i), "message": f"step {i}"}
        answer = await api("POST", f"flow-runs/{run['id']}/state", body, expect=200)
        assert answer.body["state"]["type"] == state

    got = (await api("GET", f"flow-runs/{run['id']}", expect=200)).body
    assert got["state"]["type"] == "COMPLETED" and got["state"]["message"] == "step 2"
    assert got["run_count"] == 1 and got["total_run_time"] == 10.0
    assert got["start_time"] == ts(10) and got["end_time"] == ts(20)
    assert got["parameters"] == {"n": 1} and got["tags"] == ["a"] and got["name"] == "nightly"


async def test_create_is_idempotent_on_the_run_id(api) -> None:
    run = await api.adhoc_run(id="11111111-1111-1111-1111-111111111111")
    again = await api("POST", "flow-runs", {"flow_name": "adhoc", "id": run["id"]}, expect=200)
    assert again.body["id"] == run["id"]
    assert (await api("GET", "flow-runs")).body["total"] == 1
    other = await api.register("other")
    clash = await api("POST", "flow-runs", {"flow_id": other["flow_id"], "id": run["id"]})
    assert clash.status == 409 and clash.error == "conflict"


async def test_flow_run_list_filters(api) -> None:
    a = await api.adhoc_run(
        flow_name="a", tags=["x", "y"], state={"type": "PENDING", "timestamp": ts(1)}
    )
    b = await api.adhoc_run(
        flow_name="b", tags=["x"], state={"type": "SCHEDULED", "timestamp": ts(2)}
    )

    async def ids(**params):
        return [
            r["id"]
            for r in (await api("GET", "flow-runs", params=params, expect=200)).body["items"]
        ]

    assert await ids() == [b["id"], a["id"]]  # newest expected start first
    assert await ids(flow_id=a["flow_id"]) == [a["id"]]
    assert await ids(state="SCHEDULED,RUNNING") == [b["id"]]
    assert await ids(tag="y") == [a["id"]]
    assert await ids(since=ts(2)) == [b["id"]]
    assert await ids(until=ts(2)) == [a["id"]]
    first = await api.register("versioned")
    second = await api.register("versioned", tasks=[{"key": "load", "code_hash": "h9"}], edges=[])
    assert first["id"] != second["id"]
    of_first = await api.adhoc_run(flow_version_id=first["id"])
    await api.adhoc_run(flow_version_id=second["id"])
    assert await ids(flow_version_id=first["id"]) == [of_first["id"]]
    for bad in ({"state": "NOPE"}, {"since": "yesterday"}, {"until": "2026-01-01T00:00:00"}):
        assert (await api("GET", "flow-runs", params=bad)).status == 400


async def test_flow_run_list_sorted_by_state_start_or_duration(api) -> None:
    """The flow page's history sorts on the server, so a sort covers every page."""
    names = {}
    for name, start, seconds in (("short", 1, 5), ("long", 2, 50), ("waiting", 3, None)):
        run = await api.adhoc_run(
            flow_name="sorted", name=name, state={"type": "PENDING", "timestamp": ts(start)}
        )
        names[run["id"]] = name
        if seconds is not None:
            for type_, at in (("RUNNING", start), ("COMPLETED", start + seconds)):
                body = {"type": type_, "timestamp": ts(at)}
                await api("POST", f"flow-runs/{run['id']}/state", body, expect=200)

    async def order(sort: str) -> list[str]:
        page = await api("GET", "flow-runs", params={"sort": sort}, expect=200)
        return [names[r["id"]] for r in page.body["items"]]

    assert await order("-start") == ["waiting", "long", "short"]
    assert await order("start") == ["short", "long", "waiting"]
    assert await order("state") == ["waiting", "long", "short"]  # Pending before Completed
    assert await order("-state") == ["long", "short", "waiting"]
    assert await order("-duration") == ["long", "short", "waiting"]
    assert await order("duration") == ["waiting", "short", "long"]
    refused = await api("GET", "flow-runs", params={"sort": "name"})
    assert refused.status == 400 and "sort must be one of" in refused.body["message"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (["SCHEDULED"], ("CANCELLED", "Cancelled")),
        (["PENDING"], ("CANCELLED", "Cancelled")),
        (["PENDING", "RUNNING"], ("CANCELLING", "Cancelling")),
    ],
)
async def test_cancel(api, path, expected) -> None:
    run = await api.adhoc_run()
    for i, state in enumerate(path):
        await api(
            "POST", f"flow-runs/{run['id']}/state", {"type": state, "timestamp": ts(i)}, expect=200
        )

    answer = await api("POST", f"flow-runs/{run['id']}/cancel", expect=202)

    assert (answer.body["state"]["type"], answer.body["state"]["name"]) == expected


async def test_cancel_of_a_finished_run_is_409(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING"})
    await api("POST", f"flow-runs/{run['id']}/state", {"type": "COMPLETED"}, expect=200)
    answer = await api("POST", f"flow-runs/{run['id']}/cancel", expect=409)
    assert answer.error == "illegal_transition"


async def test_delete_run_then_404(api) -> None:
    run = await api.adhoc_run()
    answer = await api("DELETE", f"flow-runs/{run['id']}", expect=204)
    assert answer.body in (b"", None)
    await api("GET", f"flow-runs/{run['id']}", expect=404)


async def test_task_runs(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING"})
    bad = await api("POST", "task-runs", {"flow_run_id": run["id"]}, expect=400)
    assert "task_key" in bad.body["message"]
    body = {"flow_run_id": run["id"], "task_key": "mod.load", "task_inputs": {"x": []}}
    first = await api("POST", "task-runs", body, expect=201)
    second = await api("POST", "task-runs", body, expect=201)  # a second call: its own run
    assert first.body["id"] != second.body["id"]
    assert first.headers["Location"].endswith(f"task-runs/{first.body['id']}")
    again = await api("POST", "task-runs", {**body, "id": first.body["id"]}, expect=200)
    assert again.body["id"] == first.body["id"]

    tr = first.body["id"]
    await api("POST", f"task-runs/{tr}/state", {"type": "PENDING"}, expect=200)
    illegal = await api("POST", f"task-runs/{tr}/state", {"type": "SCHEDULED", "name": "x"})
    assert illegal.status == 200  # Pending -> Scheduled hands a run back: legal
    refused = await api("POST", f"task-runs/{tr}/state", {"type": "COMPLETED"}, expect=409)
    assert refused.error == "illegal_transition"
    got = (await api("GET", f"task-runs/{tr}", expect=200)).body
    assert got["state"]["type"] == "SCHEDULED" and got["task_inputs"] == {"x": []}
    listed = (await api("GET", f"flow-runs/{run['id']}/task-runs", expect=200)).body
    assert listed["total"] == 2
    history = (await api("GET", f"task-runs/{tr}/states", expect=200)).body
    assert [s["type"] for s in history["items"]] == ["PENDING", "SCHEDULED"]
