"""`jupyter flows notify …` and `jupyter flows automation …` against the session's server,
with a real webhook receiving what it sends."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from click.testing import CliRunner

from jupyter_flows.cli.main import cli
from jupyter_flows.client import FlowsClient
from tests.flows_server import FlowsServer
from tests.receivers import webhook_server

CONTENT = {
    "tasks": [{"key": "main", "code_hash": "h"}],
    "edges": [],
    "parameter_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
}


def invoke(server: FlowsServer, *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(
        cli, list(args), input=stdin, env=server.env(), catch_exceptions=False
    )


def test_add_test_policy_ls_log_rm(flows_server: FlowsServer, api: FlowsClient) -> None:
    suffix = uuid.uuid4().hex[:6]
    name, flow_name = f"hook-{suffix}", f"nightly-{suffix}"
    flow = api.register_flow(flow_name, CONTENT)
    deployment = api.create_deployment(flow.version.flow_id, "daily")
    with webhook_server() as hook:
        added = invoke(flows_server, "notify", "add", name, stdin=hook.url + "\n")
        assert added.exit_code == 0 and "(json)" in added.output, added.output
        tested = invoke(flows_server, "notify", "test", name)
        assert tested.exit_code == 0 and f"Sent a test to {name}" in tested.output
        assert hook.wait(1)[0]["title"] == "jupyter-flows: a test notification"
        made = invoke(
            flows_server,
            "notify",
            "policy",
            f"on-done-{suffix}",
            "--deployment",
            f"{flow_name}/daily",
            "--on",
            "Completed",
            "--to",
            name,
        )
        assert made.exit_code == 0, made.output
        run = api.run_deployment(deployment.id, {"n": 5})
        for state in ("PENDING", "RUNNING", "COMPLETED"):
            api.set_flow_run_state(run.id, state)
        posted = hook.wait(2)[1]
        assert "Completed" in posted["title"] and run.id in posted["message"]
    listed = invoke(flows_server, "notify", "ls", "--json")
    mine = json.loads(listed.output)
    (destination,) = [d for d in mine["destinations"] if d["name"] == name]
    assert destination["status"] == "ok" and "url" not in destination
    assert hook.url not in listed.output
    assert any(p["name"] == f"on-done-{suffix}" for p in mine["policies"])
    log = invoke(flows_server, "notify", "log", "--destination", name, "--json")
    attempts = json.loads(log.output)
    assert [a["ok"] for a in attempts] == [True, True]
    assert attempts[0]["delivery"]["flow_run_id"] == run.id
    table = invoke(flows_server, "notify", "log", "--run", run.id)
    assert "Completed" in table.output and "sent" in table.output
    assert invoke(flows_server, "notify", "rm", "--policy", f"on-done-{suffix}").exit_code == 0
    assert invoke(flows_server, "notify", "rm", name).exit_code == 0


def test_automation_add_ls_log(flows_server: FlowsServer, api: FlowsClient) -> None:
    suffix = uuid.uuid4().hex[:6]
    flow = api.register_flow(f"upstream-{suffix}", CONTENT)
    upstream = api.create_deployment(flow.version.flow_id, "daily")
    downstream = api.create_deployment(flow.version.flow_id, "report")
    added = invoke(
        flows_server,
        "automation",
        "add",
        f"chain-{suffix}",
        upstream.id,
        "--when",
        '{"event": "state", "states": ["Completed"]}',
        "--then",
        json.dumps({"type": "run_deployment", "deployment": downstream.id}),
    )
    assert added.exit_code == 0, added.output
    run = api.run_deployment(upstream.id, {"n": 3})
    for state in ("PENDING", "RUNNING", "COMPLETED"):
        api.set_flow_run_state(run.id, state)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        firings = json.loads(
            invoke(
                flows_server, "automation", "log", "--automation", f"chain-{suffix}", "--json"
            ).output
        )
        if firings:
            break
        time.sleep(0.1)
    (firing,) = firings
    assert firing["ok"] and firing["result"]["parameters"] == {"n": 3}
    started = api.get_flow_run(firing["result"]["flow_run_id"])
    assert started.deployment_id == downstream.id and started.parameters == {"n": 3}
    listed = invoke(flows_server, "automation", "ls")
    assert f"chain-{suffix}" in listed.output
