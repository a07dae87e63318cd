"""States in ``POST ingest``: many runs, many states each, applied as one batch.

Each run's states apply in the batch's order, each checked against the state the ones
before it left; an illegal one is refused alone (listed in ``rejected``) and the next is
checked as if it had not been sent. Timings, history and events come out as if every state
had been posted one at a time. On SQLite and PostgreSQL (the ``backend`` fixture).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.server.conftest import ts
from tests.server.openapi_check import check_event

FLOW_A = "aaaaaaaa-0000-0000-0000-000000000001"
FLOW_B = "bbbbbbbb-0000-0000-0000-000000000002"
TASK_A = "aaaaaaaa-1111-0000-0000-000000000003"


def _state(kind: str, run_id: str, type_: str, second: int, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "run_id": run_id, "type": type_, "timestamp": ts(second), **extra}


def _mixed_batch() -> dict[str, Any]:
    """Two flow runs and a task run, their states interleaved, some of them illegal."""
    f, t = "flow_run", "task_run"
    return {
        "flow_runs": [{"id": FLOW_A, "flow_name": "nb"}, {"id": FLOW_B, "flow_name": "nb"}],
        "task_runs": [{"id": TASK_A, "flow_run_id": FLOW_A, "task_key": "load"}],
        "states": [
            _state(f, FLOW_A, "PENDING", 1),  # 0
            _state(f, FLOW_B, "RUNNING", 1),  # 1 illegal: a run starts Scheduled or Pending
            _state(f, FLOW_A, "RUNNING", 2),  # 2
            _state(t, TASK_A, "PENDING", 3),  # 3
            _state(f, FLOW_B, "PENDING", 2),  # 4
            _state(t, TASK_A, "RUNNING", 4),  # 5
            _state(f, FLOW_A, "SCHEDULED", 5),  # 6 illegal: Running -> Scheduled
            _state(t, TASK_A, "RETRYING", 6),  # 7
            _state(f, FLOW_B, "RUNNING", 7),  # 8 legal now: B is Pending
            _state(t, TASK_A, "RUNNING", 8),  # 9
            _state(t, TASK_A, "COMPLETED", 12),  # 10
            _state(f, FLOW_B, "FAILED", 17),  # 11
            _state(f, FLOW_A, "COMPLETED", 20),  # 12
            _state(f, FLOW_A, "RUNNING", 21),  # 13 illegal: Completed is final
        ],
    }


async def _history(api, kind: str, run_id: str) -> list[str]:
    items = (await api("GET", f"{kind}s/{run_id}/states")).body["items"]
    return [s["type"] for s in items]


async def test_legal_states_go_in_in_order_and_illegal_ones_are_refused_alone(api) -> None:
    answer = (await api("POST", "ingest", _mixed_batch(), expect=200)).body

    assert answer["states"] == 11
    refused = [(r["kind"], r["index"], r["error"]) for r in answer["rejected"]]
    assert refused == [
        ("states", 1, "illegal_transition"),
        ("states", 6, "illegal_transition"),
        ("states", 13, "illegal_transition"),
    ]
    assert "RUNNING -> SCHEDULED" in answer["rejected"][1]["message"]

    a = (await api("GET", f"flow-runs/{FLOW_A}")).body
    assert a["state"]["type"] == "COMPLETED" and a["state"]["timestamp"] == ts(20)
    assert (a["run_count"], a["start_time"], a["end_time"]) == (1, ts(2), ts(20))
    assert a["total_run_time"] == 18.0
    assert await _history(api, "flow-run", FLOW_A) == ["PENDING", "RUNNING", "COMPLETED"]

    b = (await api("GET", f"flow-runs/{FLOW_B}")).body
    assert (b["state"]["type"], b["run_count"], b["total_run_time"]) == ("FAILED", 1, 10.0)
    assert await _history(api, "flow-run", FLOW_B) == ["PENDING", "RUNNING", "FAILED"]

    task = (await api("GET", f"task-runs/{TASK_A}")).body
    assert task["state"]["type"] == "COMPLETED"
    # Two attempts: 2 s, then 4 s.
    assert (task["run_count"], task["total_run_time"], task["start_time"]) == (2, 6.0, ts(4))
    assert await _history(api, "task-run", TASK_A) == [
        "PENDING",
        "RUNNING",
        "RETRYING",
        "RUNNING",
        "COMPLETED",
    ]


async def test_a_resent_batch_applies_nothing_twice(api) -> None:
    batch = _mixed_batch()
    await api("POST", "ingest", batch, expect=200)
    before = [(await api("GET", f"flow-runs/{r}")).body for r in (FLOW_A, FLOW_B)]

    again = (await api("POST", "ingest", batch, expect=200)).body

    assert (again["flow_runs"], again["task_runs"], again["states"]) == (0, 0, 0)
    # What was refused is refused again (it is still illegal); nothing else is looked at.
    assert [r["index"] for r in again["rejected"]] == [1, 6, 13]
    after = [(await api("GET", f"flow-runs/{r}")).body for r in (FLOW_A, FLOW_B)]
    assert after == before
    assert len(await _history(api, "task-run", TASK_A)) == 5


async def test_a_batch_split_in_two_lands_as_the_whole_batch(api) -> None:
    """The reporter halves a batch the server refuses as a whole: the halves (each resent,
    even) must leave the runs as the whole batch would."""
    batch = _mixed_batch()
    states = batch.pop("states")
    await api("POST", "ingest", batch, expect=200)
    for half in (states[:7], states[:7], states[7:], states[7:]):
        await api("POST", "ingest", {"states": half}, expect=200)

    assert await _history(api, "flow-run", FLOW_A) == ["PENDING", "RUNNING", "COMPLETED"]
    assert await _history(api, "flow-run", FLOW_B) == ["PENDING", "RUNNING", "FAILED"]
    assert len(await _history(api, "task-run", TASK_A)) == 5


async def test_a_state_twice_in_one_batch_goes_in_once(api) -> None:
    run = await api.adhoc_run()
    f = "flow_run"
    batch = {
        "states": [
            _state(f, run["id"], "RUNNING", 1),  # illegal: not in the history afterwards
            _state(f, run["id"], "PENDING", 2),
            _state(f, run["id"], "PENDING", 2),  # the same state again: skipped
            _state(f, run["id"], "RUNNING", 1),  # equal to the refused one: now legal
        ]
    }
    answer = (await api("POST", "ingest", batch, expect=200)).body

    assert answer["states"] == 2
    assert [(r["index"], r["error"]) for r in answer["rejected"]] == [(0, "illegal_transition")]
    assert await _history(api, "flow-run", run["id"]) == ["PENDING", "RUNNING"]


async def test_states_keep_their_names_messages_and_client_ids(api) -> None:
    run = await api.adhoc_run()
    batch = {
        "states": [
            _state("flow_run", run["id"], "PENDING", 1, id="s-1"),
            _state("flow_run", run["id"], "COMPLETED", 2, name="Cached", message="from cache"),
        ]
    }
    await api("POST", "ingest", batch, expect=200)

    items = (await api("GET", f"flow-runs/{run['id']}/states")).body["items"]
    assert items[0]["details"] == {"client_id": "s-1"}
    assert (items[1]["name"], items[1]["message"]) == ("Cached", "from cache")
    got = (await api("GET", f"flow-runs/{run['id']}")).body
    assert got["state"] == {
        "type": "COMPLETED",
        "name": "Cached",
        "message": "from cache",
        "timestamp": ts(2),
    }
    assert (got["run_count"], got["start_time"], got["end_time"]) == (0, None, ts(2))


async def test_a_crash_in_a_batch_is_retried_before_the_next_state(api) -> None:
    """A run of a work queue that crashes with retries left is Scheduled again at once, so
    the states after the crash in the same batch (the next attempt) are legal."""
    version = await api.register(run_config={"retries": 1})
    body = {"flow_id": version["flow_id"], "name": "d", "work_queue": "q1"}
    deployment = (await api("POST", "deployments", body, expect=201)).body
    path = f"deployments/{deployment['id']}/runs"
    run = (await api("POST", path, {"parameters": {"n": 1}}, expect=201)).body
    f = "flow_run"
    batch = {
        "states": [
            _state(f, run["id"], "PENDING", 1),
            _state(f, run["id"], "RUNNING", 2),
            _state(f, run["id"], "CRASHED", 3),
            _state(f, run["id"], "PENDING", 4),
            _state(f, run["id"], "RUNNING", 5),
        ]
    }
    answer = (await api("POST", "ingest", batch, expect=200)).body

    assert (answer["states"], answer["rejected"]) == (5, [])
    items = (await api("GET", f"flow-runs/{run['id']}/states")).body["items"]
    assert [(s["type"], s["name"]) for s in items[-6:]] == [
        ("PENDING", "Pending"),
        ("RUNNING", "Running"),
        ("CRASHED", "Crashed"),
        ("SCHEDULED", "AwaitingRetry"),
        ("PENDING", "Pending"),
        ("RUNNING", "Running"),
    ]
    assert (await api("GET", f"flow-runs/{run['id']}")).body["run_count"] == 2


async def test_every_state_of_a_batch_is_an_event_in_order(api, jp_ws_fetch) -> None:
    ws = await jp_ws_fetch("api", "flows", "events")
    await ws.read_message()  # subscribed
    await api("POST", "ingest", _mixed_batch(), expect=200)

    heard: list[tuple[str, str, str]] = []
    flow_ids: set[str] = set()
    while len(heard) < 11:
        text = await asyncio.wait_for(ws.read_message(), timeout=30)
        assert text is not None
        message = json.loads(text)
        check_event(message)
        if message["type"] == "state":
            heard.append((message["kind"], message["run_id"], message["state"]["type"]))
            flow_ids.add(message["flow_id"])
    ws.close()
    applied = [
        (s["kind"], s["run_id"], s["type"])
        for i, s in enumerate(_mixed_batch()["states"])
        if i not in (1, 6, 13)
    ]
    assert heard == applied
    run = (await api("GET", f"flow-runs/{FLOW_A}")).body
    assert flow_ids == {run["flow_id"]}  # the task run's too, through its flow run
