"""Log lines and the reporter's ingest batches: idempotent, per-item refusals, limits."""

from __future__ import annotations

import json

import pytest

from tests.server.conftest import T0, ts


def _log(run_id: str, i: int, **fields):
    return {
        "id": f"log-{run_id[-8:]}-{i}",
        "flow_run_id": run_id,
        "level": 20,
        "timestamp": ts(i),
        "message": f"line {i}",
        "name": "jupyter_flows",
        **fields,
    }


async def test_logs_for_an_unknown_run_are_404_and_nothing_is_stored(api) -> None:
    run = await api.adhoc_run()
    lines = [_log(run["id"], 0), _log("00000000-0000-0000-0000-000000000000", 1)]
    answer = await api("POST", "logs", lines, expect=404)
    assert answer.error == "not_found"
    assert (await api("GET", "logs", params={"flow_run_id": run["id"]})).body["total"] == 0


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        ({"not": "a list"}, "valid array"),
        ([{"flow_run_id": "r", "message": "m"}], "timestamp"),
        ([{"flow_run_id": "r", "message": "m", "timestamp": "2026-01-01T00:00:00"}], "timezone"),
        ([{"flow_run_id": "r", "message": "m", "timestamp": T0, "level": "LOUD"}], "level"),
        ([{"flow_run_id": "r", "message": "m", "timestamp": T0, "extra": 1}], "unknown field"),
    ],
)
async def test_malformed_log_lines_are_400(api, lines, needle) -> None:
    answer = await api("POST", "logs", lines, expect=400)
    assert needle in answer.body["message"]


async def test_logs_write_once_and_read_filtered(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING"})
    task = (
        await api("POST", "task-runs", {"flow_run_id": run["id"], "task_key": "t"}, expect=201)
    ).body
    lines = [_log(run["id"], i) for i in range(5)]
    lines[3].update(level="ERROR", message="Boom happened", task_run_id=task["id"])
    assert (await api("POST", "logs", lines, expect=201)).body == {"count": 5}
    assert (await api("POST", "logs", lines, expect=201)).body == {"count": 0}

    path = f"flow-runs/{run['id']}/logs"
    page = (await api("GET", path, params={"limit": 2}, expect=200)).body
    assert page["total"] == 5 and [x["message"] for x in page["items"]] == ["line 0", "line 1"]
    assert page["items"][0]["id"] == lines[0]["id"]
    errors = (await api("GET", path, params={"level": "ERROR"}, expect=200)).body
    assert [x["message"] for x in errors["items"]] == ["Boom happened"]
    assert errors["items"][0]["level"] == 40
    found = (await api("GET", "logs", params={"q": "boom"}, expect=200)).body
    assert found["total"] == 1
    by_task = (await api("GET", "logs", params={"task_run_id": task["id"]}, expect=200)).body
    assert by_task["total"] == 1


async def test_log_download(api) -> None:
    run = await api.adhoc_run()
    await api("POST", "logs", [_log(run["id"], i) for i in range(3)], expect=201)
    path = f"flow-runs/{run['id']}/logs/download"

    text = await api("GET", path, expect=200)
    assert text.headers["Content-Type"].startswith("text/plain")
    assert "attachment" in text.headers["Content-Disposition"]
    assert text.body.decode().splitlines()[2].endswith("| line 2")
    jsonl = await api("GET", path, params={"format": "jsonl"}, expect=200)
    assert [json.loads(x)["message"] for x in jsonl.body.decode().splitlines()] == [
        "line 0",
        "line 1",
        "line 2",
    ]
    assert (await api("GET", path, params={"format": "pdf"})).status == 400


def _batch(run_id: str, task_id: str) -> dict:
    return {
        "flow_runs": [{"id": run_id, "name": "r", "flow_name": "nb", "parameters": {"a": 1}}],
        "task_runs": [{"id": task_id, "flow_run_id": run_id, "name": "t", "task_key": "m.t"}],
        "states": [
            {"kind": "flow_run", "run_id": run_id, "type": "PENDING", "timestamp": ts(0)},
            {"kind": "flow_run", "run_id": run_id, "type": "RUNNING", "timestamp": ts(1)},
            {"kind": "task_run", "run_id": task_id, "type": "PENDING", "timestamp": ts(1)},
            {"kind": "task_run", "run_id": task_id, "type": "RUNNING", "timestamp": ts(2)},
            {"kind": "task_run", "run_id": task_id, "type": "COMPLETED", "timestamp": ts(3)},
            {"kind": "flow_run", "run_id": run_id, "type": "COMPLETED", "timestamp": ts(4)},
        ],
        "logs": [_log(run_id, i, task_run_id=task_id if i % 2 else None) for i in range(4)],
    }


async def test_ingest_applies_a_batch_and_a_resend_duplicates_nothing(api) -> None:
    run_id, task_id = "22222222-2222-2222-2222-222222222222", "33333333-3333-3333-3333-333333333333"
    batch = _batch(run_id, task_id)

    first = (await api("POST", "ingest", batch, expect=200)).body
    again = (await api("POST", "ingest", batch, expect=200)).body

    assert first == {
        "flow_runs": 1,
        "task_runs": 1,
        "states": 6,
        "logs": 4,
        "artifacts": 0,
        "rejected": [],
    }
    assert again == {
        "flow_runs": 0,
        "task_runs": 0,
        "states": 0,
        "logs": 0,
        "artifacts": 0,
        "rejected": [],
    }
    run = (await api("GET", f"flow-runs/{run_id}", expect=200)).body
    assert run["state"]["type"] == "COMPLETED" and run["flow_name"] == "nb"
    history = (await api("GET", f"flow-runs/{run_id}/states")).body["items"]
    assert [s["type"] for s in history] == ["PENDING", "RUNNING", "COMPLETED"]
    assert (await api("GET", f"flow-runs/{run_id}/logs")).body["total"] == 4
    task = (await api("GET", f"task-runs/{task_id}")).body
    assert task["state"]["type"] == "COMPLETED" and task["run_count"] == 1


async def test_a_partly_resent_batch_stores_only_its_new_lines(api) -> None:
    run = await api.adhoc_run()
    lines = [_log(run["id"], i) for i in range(1_500)]  # more than one statement's worth
    assert (await api("POST", "ingest", {"logs": lines[:700]}, expect=200)).body["logs"] == 700
    assert (await api("POST", "ingest", {"logs": lines}, expect=200)).body["logs"] == 800
    assert (await api("POST", "ingest", {"logs": lines}, expect=200)).body["logs"] == 0
    page = (await api("GET", f"flow-runs/{run['id']}/logs", params={"limit": 500})).body
    assert page["total"] == 1_500
    assert [x["id"] for x in page["items"]] == [x["id"] for x in lines[:500]]


async def test_a_line_id_twice_in_one_batch_is_stored_once(api) -> None:
    run = await api.adhoc_run()
    first, second = _log(run["id"], 0), _log(run["id"], 1, id=_log(run["id"], 0)["id"])
    assert (await api("POST", "ingest", {"logs": [first, second]}, expect=200)).body["logs"] == 1
    items = (await api("GET", f"flow-runs/{run['id']}/logs")).body["items"]
    assert [x["message"] for x in items] == ["line 0"]


async def test_lines_without_ids_get_one_and_are_stored_each_time(api) -> None:
    run = await api.adhoc_run()
    lines = [{k: v for k, v in _log(run["id"], i).items() if k != "id"} for i in range(3)]
    assert (await api("POST", "ingest", {"logs": lines}, expect=200)).body["logs"] == 3
    assert (await api("POST", "logs", lines, expect=201)).body == {"count": 3}
    items = (await api("GET", f"flow-runs/{run['id']}/logs")).body["items"]
    assert len({x["id"] for x in items}) == 6


async def test_log_times_in_any_zone_are_stored_and_read_in_utc(api) -> None:
    run = await api.adhoc_run()
    lines = [
        _log(run["id"], 0, timestamp="2026-01-01T17:30:00.000001+05:30"),
        _log(run["id"], 1, timestamp="2026-01-01T12:00:00.5Z", level="WARNING"),
    ]
    await api("POST", "ingest", {"logs": lines}, expect=200)
    items = (await api("GET", f"flow-runs/{run['id']}/logs")).body["items"]
    assert [(x["timestamp"], x["level"]) for x in items] == [
        ("2026-01-01T12:00:00.000001+00:00", 20),
        ("2026-01-01T12:00:00.500000+00:00", 30),
    ]


async def test_ingest_refuses_bad_items_alone(api) -> None:
    run = await api.adhoc_run(state={"type": "PENDING", "timestamp": T0})
    batch = {
        "task_runs": [{"id": "t-orphan", "flow_run_id": "no-such-run", "task_key": "x"}],
        "states": [
            {"kind": "flow_run", "run_id": run["id"], "type": "COMPLETED", "timestamp": ts(1)},
            {"kind": "flow_run", "run_id": run["id"], "type": "RUNNING", "timestamp": ts(2)},
            {"kind": "task_run", "run_id": "no-such-task", "type": "RUNNING"},
        ],
        "logs": [_log(run["id"], 0), _log("no-such-run", 1)],
    }

    result = (await api("POST", "ingest", batch, expect=200)).body

    assert (result["states"], result["logs"], result["task_runs"]) == (1, 1, 0)
    refused = {(r["kind"], r["index"], r["error"]) for r in result["rejected"]}
    assert refused == {
        ("task_runs", 0, "not_found"),
        ("states", 1, "illegal_transition"),
        ("states", 2, "not_found"),
        ("logs", 1, "not_found"),
    }
    got = (await api("GET", f"flow-runs/{run['id']}")).body
    assert got["state"]["type"] == "COMPLETED"


async def test_ingest_with_an_unknown_field_is_400_and_applies_nothing(api) -> None:
    batch = _batch("44444444-4444-4444-4444-444444444444", "t")
    batch["logs"][0]["colour"] = "red"
    answer = await api("POST", "ingest", batch, expect=400)
    assert "logs.0.colour: unknown field" in answer.body["message"]
    assert (await api("GET", "flow-runs")).body["total"] == 0


class TestBodyLimit:
    @pytest.fixture
    def flows_config(self):
        return {"max_body_bytes": 2000}

    async def test_a_body_over_the_limit_is_413_before_parsing(self, api) -> None:
        answer = await api("POST", "ingest", raw=b"x" * 2001, expect=413)
        assert answer.error == "too_large"
        ok = await api("POST", "ingest", {"logs": []}, expect=200)
        assert ok.body["logs"] == 0
