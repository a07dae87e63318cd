"""Notifications through the REST API, delivered for real: an SMTP server and a webhook on
loopback receive what a failing run's state change put in the outbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.receivers import free_port, smtp_server, webhook_server
from tests.server.background.test_wiring import flows_app
from tests.server.conftest import Api

CELL_ERROR = "CellError: cell [3] (x = 1 / 0) raised ZeroDivisionError: division by zero"
TRACEBACK = (
    "cell [3] (x = 1 / 0) raised ZeroDivisionError: division by zero\n"
    "Traceback (most recent call last):\n"
    '  File "<cell 3>", line 2, in <module>\n'
    "    x = 1 / 0\n"
    "ZeroDivisionError: division by zero"
)


@pytest.fixture
def flows_config() -> dict[str, Any]:
    return {
        "notifications_interval_seconds": 0.1,
        "notifications_backoff_seconds": 0.05,
        "notifications_max_attempts": 3,
        "notifications_dead_after": 3,
        "notifications_public_url": "https://flows.example.com/",
        "late_runs_grace_seconds": 0.0,
        "late_runs_interval_seconds": 0.2,
    }


class StartedApi(Api):
    """The API of a server whose background services (the notifier, the late-run marker)
    start with the test's first request (the server's shutdown stops them)."""

    def __init__(self, fetch: Any, serverapp: Any) -> None:
        super().__init__(fetch)
        self.serverapp = serverapp
        self.started = False

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.started:
            self.started = True
            await flows_app(self.serverapp)._start_jupyter_server_extension(self.serverapp)
        return await super().__call__(*args, **kwargs)


@pytest.fixture
def api(jp_fetch: Any, jp_serverapp: Any) -> Api:
    return StartedApi(jp_fetch, jp_serverapp)


async def _deployment(api: Api, name: str = "daily") -> dict[str, Any]:
    version = await api.register()
    body = {"flow_id": version["flow_id"], "name": name, "work_queue": "q1"}
    return (await api("POST", "deployments", body, expect=201)).body  # type: ignore[no-any-return]


async def _destination(api: Api, name: str, url: str) -> None:
    await api("POST", "notifications/destinations", {"name": name, "url": url}, expect=201)


async def _policy(api: Api, deployment: dict[str, Any], events: list[str], *dests: str) -> None:
    body = {
        "name": f"{deployment['name']}-{'-'.join(events).lower()}",
        "deployment_id": deployment["id"],
        "events": events,
        "destinations": list(dests),
    }
    await api("POST", "notifications/policies", body, expect=201)


async def _fail_a_run(api: Api, deployment: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """A run whose cell-task "train" failed with a CellError; (run, seconds the Failed
    state change took to answer)."""
    path = f"deployments/{deployment['id']}/runs"
    run = (await api("POST", path, {"parameters": {"n": 7}}, expect=201)).body
    for state in ("PENDING", "RUNNING"):
        await api("POST", f"flow-runs/{run['id']}/state", {"type": state}, expect=200)
    task = {"flow_run_id": run["id"], "task_key": "train"}
    task_run = (await api("POST", "task-runs", task, expect=201)).body
    for state in ("PENDING", "RUNNING"):
        await api("POST", f"task-runs/{task_run['id']}/state", {"type": state}, expect=200)
    line = {
        "flow_run_id": run["id"],
        "task_run_id": task_run["id"],
        "level": 40,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "message": TRACEBACK,
    }
    await api("POST", "logs", [line], expect=201)
    state = {"type": "FAILED", "message": CELL_ERROR}
    await api("POST", f"task-runs/{task_run['id']}/state", state, expect=200)
    started = time.monotonic()
    state = {"type": "FAILED", "message": "1 task failed: train"}
    await api("POST", f"flow-runs/{run['id']}/state", state, expect=200)
    return run, time.monotonic() - started


async def _wait(inbox: Any, count: int = 1, timeout: float = 20.0) -> list[Any]:
    return await asyncio.to_thread(inbox.wait, count, timeout)


async def test_a_failed_run_sends_one_email_and_one_webhook_naming_the_cell(api: Api) -> None:
    deployment = await _deployment(api)
    with smtp_server() as mail, webhook_server() as hook:
        await _destination(api, "ops-mail", mail.url)
        await _destination(api, "ops-hook", hook.url)
        await _policy(api, deployment, ["Failed"], "ops-mail", "ops-hook")
        run, _ = await _fail_a_run(api, deployment)
        (message,) = await _wait(mail)
        (posted,) = await _wait(hook)
        await asyncio.sleep(0.5)  # nothing more comes
        assert len(mail.received) == len(hook.received) == 1
    assert "Failed" in message["subject"] and "etl" in message["subject"]
    for text in (message["body"], posted["message"]):
        assert run["id"] in text
        assert "cell [3] (x = 1 / 0)" in text
        assert "ZeroDivisionError: division by zero" in text
        assert "x = 1 / 0" in text.split("Traceback (last frames):", 1)[1]
        assert '"n": 7' in text
        assert f"https://flows.example.com/lab?flows-run={run['id']}" in text
    log = (await api("GET", "notifications/attempts", params={"flow_run_id": run["id"]})).body
    assert sorted(a["destination"] for a in log["items"]) == ["ops-hook", "ops-mail"]
    assert all(a["ok"] and a["delivery"]["status"] == "sent" for a in log["items"])
    params = {"deployment_id": deployment["id"]}
    by_deployment = (await api("GET", "notifications/attempts", params=params)).body
    assert by_deployment["total"] == 2
    other = await _deployment(api, "weekly")
    params = {"deployment_id": other["id"]}
    assert (await api("GET", "notifications/attempts", params=params)).body["total"] == 0


async def test_destinations_never_show_their_url(api: Api) -> None:
    secret = "json://127.0.0.1:9/hook?token=sekrit-1234"
    await _destination(api, "hook", secret)
    listed = (await api("GET", "notifications/destinations")).body
    assert [d["name"] for d in listed["items"]] == ["hook"]
    assert "sekrit" not in str(listed)
    credentials = (await api("GET", "credentials")).body
    assert [c["name"] for c in credentials["items"]] == ["notify-hook"]
    await api("POST", "notifications/destinations", {"name": "hook", "url": secret}, expect=409)
    await api("DELETE", "credentials/notify-hook", expect=409)  # the destination's own
    await api("DELETE", "notifications/destinations/hook", expect=204)
    assert (await api("GET", "credentials")).body["items"] == []


async def test_a_down_destination_is_retried_then_marked_and_never_delays_the_run(
    api: Api,
) -> None:
    deployment = await _deployment(api)
    with webhook_server(delay=3.0) as slow:
        await _destination(api, "down", f"json://127.0.0.1:{free_port()}/hook")
        await _destination(api, "slow", slow.url)
        await _policy(api, deployment, ["Failed"], "down", "slow")
        run, took = await _fail_a_run(api, deployment)
        await _wait(slow)  # the slow one is being sent now, and the state change is done
        assert took < 1.0
        state = (await api("GET", f"flow-runs/{run['id']}")).body["state"]
        assert state["type"] == "FAILED"
        for _ in range(200):
            destinations = (await api("GET", "notifications/destinations")).body["items"]
            down = next(d for d in destinations if d["name"] == "down")
            if down["status"] == "dead":
                break
            await asyncio.sleep(0.05)
    assert down["status"] == "dead" and down["consecutive_failures"] == 3
    assert down["last_error"]
    log = (await api("GET", "notifications/attempts", params={"destination": "down"})).body
    log = log["items"]
    assert [a["attempt"] for a in log] == [3, 2, 1] and not any(a["ok"] for a in log)
    assert log[0]["delivery"]["status"] == "failed"
    # A test that goes through revives it; one that fails says why.
    tested = (await api("POST", "notifications/destinations/down/test", {})).body
    assert tested["ok"] is False and tested["error"]


async def test_send_a_test_revives_a_dead_destination(api: Api) -> None:
    with webhook_server() as hook:
        await _destination(api, "hook", hook.url)
        tested = (await api("POST", "notifications/destinations/hook/test", {})).body
        (posted,) = await _wait(hook)
    assert tested["ok"] is True and tested["destination"]["status"] == "ok"
    assert "test" in posted["title"]
    log = (await api("GET", "notifications/attempts", params={"destination": "hook"})).body
    log = log["items"]
    assert log[0]["sender"] == "test" and log[0]["delivery"] is None


async def test_a_run_that_never_starts_notifies_late(api: Api) -> None:
    deployment = await _deployment(api)
    with webhook_server() as hook:
        await _destination(api, "hook", hook.url)
        await _policy(api, deployment, ["Late"], "hook")
        path = f"deployments/{deployment['id']}/runs"
        body = {"parameters": {"n": 1}, "scheduled_start": "2026-01-01T00:00:00+00:00"}
        run = (await api("POST", path, body, expect=201)).body
        (posted,) = await _wait(hook)
    assert "Late" in posted["title"]
    assert run["id"] in posted["message"] and "No agent started it" in posted["message"]


async def test_bad_policies_are_refused(api: Api) -> None:
    deployment = await _deployment(api)
    await _destination(api, "hook", "json://127.0.0.1:9/hook")
    base = {"name": "p", "events": ["Failed"], "destinations": ["hook"]}
    await api("POST", "notifications/policies", base, expect=400)  # neither deployment nor flow
    body = {**base, "deployment_id": deployment["id"], "destinations": ["nope"]}
    await api("POST", "notifications/policies", body, expect=404)
    body = {**base, "deployment_id": deployment["id"], "events": ["Running"]}
    await api("POST", "notifications/policies", body, expect=400)  # needs its duration
    body = {**base, "deployment_id": deployment["id"]}
    made = (await api("POST", "notifications/policies", body, expect=201)).body
    assert made["destinations"] == ["hook"] and made["deployment"] == "daily"


async def test_a_crash_on_start_says_what_the_infrastructure_said(api: Api) -> None:
    deployment = await _deployment(api)
    with webhook_server() as hook:
        await _destination(api, "hook", hook.url)
        await _policy(api, deployment, ["Crashed"], "hook")
        path = f"deployments/{deployment['id']}/runs"
        run = (await api("POST", path, {"parameters": {"n": 1}}, expect=201)).body
        said = {"type": "PENDING", "message": "pod pending: ImagePullBackOff"}
        await api("POST", f"flow-runs/{run['id']}/state", said, expect=200)
        crashed = {"type": "CRASHED", "message": "the pod never started"}
        await api("POST", f"flow-runs/{run['id']}/state", crashed, expect=200)
        (posted,) = await _wait(hook)
    assert "Crashed" in posted["title"]
    assert "Last Pending state: pod pending: ImagePullBackOff" in posted["message"]
