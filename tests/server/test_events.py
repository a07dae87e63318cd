"""The event stream: a WebSocket fed by the in-process bus, filtered, bounded."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_flows.server.event_bus import EventBus, Message
from tests.server.conftest import ts
from tests.server.openapi_check import check_event


async def _next(ws) -> dict:
    text = await asyncio.wait_for(ws.read_message(), timeout=30)
    assert text is not None, "the server closed the stream"
    message = json.loads(text)
    check_event(message)
    return message


async def _until(ws, predicate) -> dict:
    while True:
        message = await _next(ws)
        if predicate(message):
            return message


async def test_events_without_credentials_are_refused(jp_ws_fetch) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("api", "flows", "events", headers={"Authorization": ""})
    assert info.value.code == 401


async def test_runs_states_and_logs_arrive_as_they_happen(api, jp_ws_fetch) -> None:
    ws = await jp_ws_fetch("api", "flows", "events")
    hello = await _next(ws)
    assert hello == {"type": "subscribed", "flow_id": None, "flow_run_id": None}

    run = await api.adhoc_run()
    created = await _next(ws)
    assert created["type"] == "flow_run" and created["flow_run"]["id"] == run["id"]

    batch = {
        "states": [
            {"kind": "flow_run", "run_id": run["id"], "type": "PENDING", "timestamp": ts(1)}
        ],
        "logs": [{"id": "e1", "flow_run_id": run["id"], "timestamp": ts(2), "message": "hello"}],
    }
    await api("POST", "ingest", batch, expect=200)
    state = await _next(ws)
    assert state["type"] == "state" and state["state"]["type"] == "PENDING"
    assert (state["run_id"], state["flow_id"]) == (run["id"], run["flow_id"])
    log = await _next(ws)
    assert log["type"] == "log" and log["log"]["message"] == "hello"
    ws.close()


async def test_a_resent_log_batch_announces_only_its_new_lines(api, jp_ws_fetch) -> None:
    run = await api.adhoc_run()
    ws = await jp_ws_fetch("api", "flows", "events", params={"flow_run_id": run["id"]})
    await _next(ws)
    lines = [
        {"id": f"r{i}", "flow_run_id": run["id"], "timestamp": ts(i), "message": f"m{i}"}
        for i in range(3)
    ]
    await api("POST", "ingest", {"logs": lines}, expect=200)
    heard = [(await _next(ws))["log"] for _ in range(3)]
    assert [x["message"] for x in heard] == ["m0", "m1", "m2"]
    assert heard[0]["timestamp"] == ts(0) and heard[0]["id"] == "r0"

    await api("POST", "ingest", {"logs": lines}, expect=200)
    await api("POST", f"flow-runs/{run['id']}/state", {"type": "PENDING"}, expect=200)
    assert (await _next(ws))["type"] == "state"  # no log line in between

    # A reporter resends a batch it got no answer for, with what was logged meanwhile.
    more = [*lines, {"id": "r3", "flow_run_id": run["id"], "timestamp": ts(3), "message": "m3"}]
    assert (await api("POST", "ingest", {"logs": more}, expect=200)).body["logs"] == 1
    await api("POST", f"flow-runs/{run['id']}/state", {"type": "RUNNING"}, expect=200)
    heard = [await _next(ws), await _next(ws)]
    assert [m["type"] for m in heard] == ["log", "state"]
    assert heard[0]["log"]["message"] == "m3"
    ws.close()


async def test_a_subscriber_hears_only_its_run(api, jp_ws_fetch) -> None:
    mine, other = await api.adhoc_run(), await api.adhoc_run()
    ws = await jp_ws_fetch("api", "flows", "events", params={"flow_run_id": mine["id"]})
    await _next(ws)

    await api("POST", f"flow-runs/{other['id']}/state", {"type": "PENDING"}, expect=200)
    await api("POST", f"flow-runs/{mine['id']}/state", {"type": "SCHEDULED"}, expect=200)

    message = await _next(ws)
    assert message["type"] == "state" and message["run_id"] == mine["id"]
    ws.close()


async def test_a_slow_subscriber_loses_the_oldest_messages_and_is_told() -> None:
    bus = EventBus(max_queue=3)
    sub = bus.subscribe(flow_run_id="r")
    for i in range(5):
        bus.publish([Message("f", "r", {"type": "log", "i": i})])
    bus.publish([Message("f", "other", {"type": "log", "i": 99})])

    assert json.loads(await sub.get()) == {"type": "lagged", "dropped": 2}
    assert [json.loads(await sub.get())["i"] for _ in range(3)] == [2, 3, 4]
    assert len(sub.queue) == 0
    sub.close()
    assert await sub.get() is None
    assert bus.subscriber_count == 0


async def test_publishing_with_no_subscriber_builds_nothing() -> None:
    bus = EventBus()
    built = []
    bus.publish(lambda: built.append(1) or [])
    assert built == []
