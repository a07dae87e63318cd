"""``jupyter flows …`` against a real standalone server (tests/flows_server.py).

Nothing executes runs yet (agents come later), so the tests that follow a run move its
states themselves through the client, from a thread, as an agent's engine would.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.client import FlowsAPIError, FlowsClient
from jupyter_flows.client_models import FlowRun
from tests.cli.conftest import Invoke
from tests.flows_server import FlowsServer, free_port

EXAMPLE = Path(__file__).parents[2] / "examples" / "etl_flow.py"
#: A bound on waiting for something another thread or process does (never an expectation).
PATIENCE = 60.0


def one_line_error(result: Any) -> str:
    """The error of a failed command: exactly one line on stderr, no traceback."""
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return str(lines[0])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def deployment(invoke: Invoke, api: FlowsClient) -> str:
    """A new deployment of the example etl flow; its FLOW/NAME reference."""
    assert invoke("register", str(EXAMPLE)).exit_code == 0
    name = unique("dep")
    result = invoke("deployment", "create", "etl", name, "-p", "n=3")
    assert result.exit_code == 0, result.output
    return f"etl/{name}"


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + PATIENCE
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


# ---------------------------------------------------------------- register


def test_register_creates_a_version_once(invoke: Invoke, tmp_path: Path) -> None:
    script = tmp_path / "pipeline.py"
    script.write_text(EXAMPLE.read_text().replace("def etl(", "def pipeline_flow("))
    first = invoke("register", str(script))
    assert first.exit_code == 0, first.output
    assert "'pipeline-flow' registered as new version 1" in first.output
    again = invoke("register", str(script))
    assert "'pipeline-flow' unchanged: still version 1" in again.output
    script.write_text(script.read_text().replace('row["value"] ** 2', 'row["value"] ** 3'))
    changed = invoke("register", str(script), "--name", "pipeline-flow")
    assert "registered as new version 2" in changed.output


def test_register_refuses_a_file_it_cannot_use(invoke: Invoke, tmp_path: Path) -> None:
    assert "no such file" in one_line_error(invoke("register", str(tmp_path / "nope.py")))
    two = tmp_path / "two.py"
    two.write_text("from jupyter_flows import flow\n@flow\ndef a(): pass\n@flow\ndef b(): pass\n")
    assert "pick one with --flow" in one_line_error(invoke("register", str(two)))
    assert invoke("register", str(two), "--flow", "b").exit_code == 0


# ---------------------------------------------------------------- deployments


def test_deployment_lifecycle(invoke: Invoke, api: FlowsClient) -> None:
    assert invoke("register", str(EXAMPLE)).exit_code == 0
    name = unique("nightly")
    created = invoke(
        "deployment", "create", "etl", name, "-p", "n=7", "--interval", "3600", "--tag", "t1"
    )
    assert created.exit_code == 0, created.output
    assert f"Created deployment etl/{name}" in created.output

    listed = invoke("deployment", "ls", "--flow", "etl")
    assert name in listed.output and "every 3600s" in listed.output and "n=7" in listed.output
    (found,) = [
        d for d in json.loads(invoke("deployment", "ls", "--json").output) if d["name"] == name
    ]
    assert found["parameters"] == {"n": 7} and found["tags"] == ["t1"]

    assert "Paused" in invoke("deployment", "pause", f"etl/{name}").output
    assert api.get_deployment(found["id"]).paused
    assert "Resumed" in invoke("deployment", "resume", name).output
    assert not api.get_deployment(found["id"]).paused
    assert "Deleted" in invoke("deployment", "delete", found["id"]).output
    assert "no deployment" in one_line_error(invoke("deployment", "delete", found["id"]))


def test_deployment_create_refuses_bad_input(invoke: Invoke) -> None:
    assert invoke("register", str(EXAMPLE)).exit_code == 0
    error = one_line_error(invoke("deployment", "create", "no-such-flow", "x"))
    assert "no flow 'no-such-flow'" in error
    bad = invoke("deployment", "create", "etl", "x", "-p", "n")
    assert bad.exit_code == 2 and "expected NAME=VALUE" in one_line_error(bad)
    both = invoke("deployment", "create", "etl", "x", "--interval", "5", "--cron", "* * * * *")
    assert "not both" in one_line_error(both)


# ---------------------------------------------------------------- runs


def test_run_creates_a_scheduled_run_with_typed_parameters(
    invoke: Invoke, api: FlowsClient, deployment: str
) -> None:
    result = invoke("run", deployment, "-p", "n=5", "--tag", "manual")
    assert result.exit_code == 0, result.output
    assert "state Scheduled" in result.output
    runs = json.loads(
        invoke("runs", "ls", "--flow", "etl", "--state", "scheduled", "--json").output
    )
    (run,) = [r for r in runs if "manual" in r["tags"]]
    assert run["parameters"] == {"n": 5}
    assert api.get_flow_run(run["id"]).trigger == "cli"  # the history's Trigger column
    table = invoke("runs", "ls", "--state", "Scheduled,pending").output
    assert run["id"] in table and "Scheduled" in table


def test_run_refuses_bad_parameters_with_the_servers_reason(
    invoke: Invoke, deployment: str
) -> None:
    error = one_line_error(invoke("run", deployment, "-p", "n=seven"))
    assert "parameter 'n'" in error and "integer" in error
    bad = invoke("run", deployment, "-p", "=3")
    assert bad.exit_code == 2 and "expected NAME=VALUE" in one_line_error(bad)
    assert "no deployment" in one_line_error(invoke("run", "etl/missing"))
    assert "unknown state" in one_line_error(invoke("runs", "ls", "--state", "sleepy"))


def drive_next_run(
    api: FlowsClient, deployment_id: str, final: str, tasks: list[tuple[str, str]]
) -> threading.Thread:
    """In a thread: take the deployment's next Scheduled run through to ``final``."""

    def drive() -> None:
        run: FlowRun = wait_for(
            lambda: next(iter(api.list_flow_runs(deployment_id=deployment_id).items), None),
            "the CLI to create the run",
        )
        api.set_flow_run_state(run.id, "PENDING")
        api.set_flow_run_state(run.id, "RUNNING")
        for name, state in tasks:
            task_run = api.create_task_run(
                {
                    "flow_run_id": run.id,
                    "name": name,
                    "task_key": f"etl_flow.{name[:-2]}",
                    "state": {"type": "PENDING"},
                }
            )
            api.set_task_run_state(task_run.id, "RUNNING")
            api.set_task_run_state(task_run.id, state)
        api.set_flow_run_state(run.id, final, message=f"ended {final.lower()}")

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("final", "tasks", "code"),
    [
        ("COMPLETED", [("extract-0", "COMPLETED"), ("load-0", "COMPLETED")], 0),
        ("FAILED", [("extract-0", "COMPLETED"), ("load-0", "FAILED")], 1),
    ],
)
def test_run_watch_follows_the_run_and_exits_by_its_end(
    invoke: Invoke,
    api: FlowsClient,
    deployment: str,
    final: str,
    tasks: list[tuple[str, str]],
    code: int,
) -> None:
    flow_name, _, dep_name = deployment.partition("/")
    (dep,) = [d for d in api.iterate(api.list_deployments) if d.name == dep_name]
    driver = drive_next_run(api, dep.id, final, tasks)
    result = invoke("run", deployment, "--watch")
    driver.join(PATIENCE)
    assert result.exit_code == code, result.output
    assert "extract-0" in result.output and "load-0" in result.output
    lines = result.output.splitlines()
    # Piped output gets a line per state change, then the final view, each on its own line.
    assert "2/2 task runs finished" in lines
    assert lines[-1].startswith("Flow run ") and lines[-1].endswith(f"ended {final.capitalize()}")
    # Every state each run went through, in the order the server applied them.
    changes = [line.split(" ", 1)[1] for line in lines if line[:2].isdigit()]
    run_name = lines[0].split("Created flow run ", 1)[1].split(" ", 1)[0]
    expected = [f"flow run {run_name} {s}" for s in ("Scheduled", "Pending", "Running")]
    for name, state in tasks:
        expected += [f"task run {name} {s}" for s in ("Pending", "Running", state.capitalize())]
    expected.append(f"flow run {run_name} {final.capitalize()}")
    assert changes == expected


# ---------------------------------------------------------------- logs and cancel


@pytest.fixture
def finished_run(api: FlowsClient) -> FlowRun:
    """An ad-hoc run with a task and log lines of several levels, Completed."""
    run = api.create_flow_run(
        {"name": unique("adhoc"), "flow_name": "adhoc-logs", "state": {"type": "PENDING"}}
    )
    task_run = api.create_task_run(
        {"flow_run_id": run.id, "name": "fetch-0", "task_key": "m.fetch"}
    )
    now = "2026-01-01T00:00:0{}+00:00"
    api.create_logs(
        [
            {"flow_run_id": run.id, "level": 20, "timestamp": now.format(1), "message": "start"},
            {
                "flow_run_id": run.id,
                "task_run_id": task_run.id,
                "level": 30,
                "timestamp": now.format(2),
                "message": "slow download",
            },
            {
                "flow_run_id": run.id,
                "level": 40,
                "timestamp": now.format(3),
                "message": "disk full",
            },
        ]
    )
    api.set_flow_run_state(run.id, "RUNNING")
    api.set_flow_run_state(run.id, "COMPLETED")
    return run


def test_logs_prints_filters_and_searches(invoke: Invoke, finished_run: FlowRun) -> None:
    out = invoke("logs", finished_run.id).output
    assert [line.split(" | ", 1)[1] for line in out.strip().splitlines()] == [
        "INFO    | flow - start",
        "WARNING | fetch-0 - slow download",
        "ERROR   | flow - disk full",
    ]
    assert "start" not in invoke("logs", finished_run.id, "--level", "warning").output
    nothing = invoke("logs", finished_run.id, "--level", "critical")
    assert nothing.exit_code == 0 and nothing.stdout == ""
    assert nothing.stderr == "No log lines at critical or above (3 lines in all).\n"
    unfound = invoke("logs", finished_run.id, "--search", "nowhere", "--level", "error").stderr
    assert unfound == "No log lines at error or above containing 'nowhere' (3 lines in all).\n"
    searched = invoke("logs", finished_run.id, "--search", "DISK").output
    assert "disk full" in searched and "slow" not in searched
    followed = invoke("logs", finished_run.id, "--follow")
    assert followed.exit_code == 0 and "Flow run ended Completed" in followed.output


def test_logs_follow_prints_lines_as_they_arrive(invoke: Invoke, api: FlowsClient) -> None:
    run = api.create_flow_run(
        {"name": unique("live"), "flow_name": "adhoc-logs", "state": {"type": "PENDING"}}
    )
    api.set_flow_run_state(run.id, "RUNNING")

    def produce() -> None:
        for i in range(3):
            api.create_logs(
                [
                    {
                        "flow_run_id": run.id,
                        "level": 20,
                        "message": f"tick {i}",
                        "timestamp": f"2026-01-01T00:00:0{i}+00:00",
                    }
                ]
            )
        api.set_flow_run_state(run.id, "COMPLETED")

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    result = invoke("logs", run.id, "--follow")
    producer.join(PATIENCE)
    assert result.exit_code == 0
    assert [m for m in ("tick 0", "tick 1", "tick 2") if m in result.output] == [
        "tick 0",
        "tick 1",
        "tick 2",
    ]
    assert result.output.count("tick 1") == 1
    assert "Flow run ended Completed" in result.output


def test_names_are_looked_up_without_a_request_that_fails(
    invoke: Invoke, deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed request is a 404 warning in the server's log: a name is never tried as an id."""
    failed: list[str] = []
    sent = FlowsClient.request

    def request(self: FlowsClient, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return sent(self, method, path, **kwargs)
        except FlowsAPIError as exc:
            failed.append(f"{exc.status} {method} {path}")
            raise

    monkeypatch.setattr(FlowsClient, "request", request)
    flow, name = deployment.split("/")
    for command in (
        ["run", deployment],
        ["run", name],
        ["runs", "ls", "--flow", flow],
        ["deployment", "ls", "--flow", f"default/{flow}"],
        ["deployment", "pause", name],
    ):
        result = invoke(*command)
        assert result.exit_code == 0, (command, result.output)
    assert failed == []
    error = one_line_error(invoke("run", f"no-such-flow/{name}"))
    assert (
        error == "Error: no flow 'no-such-flow': register it first (jupyter flows register FILE.py)"
    )
    assert failed == []


def test_an_unknown_run_is_one_clear_line(invoke: Invoke) -> None:
    for command in (["logs", "no-such-run"], ["cancel", "no-such-run"]):
        error = one_line_error(invoke(*command))
        assert "no-such-run" in error


def test_cancel_a_scheduled_run(invoke: Invoke, api: FlowsClient, deployment: str) -> None:
    created = invoke("run", deployment)
    run_id = created.output.split("(")[1].split(")")[0]
    result = invoke("cancel", run_id)
    assert result.exit_code == 0 and "is Cancelled" in result.output
    assert api.get_flow_run(run_id).state.type == "CANCELLED"  # type: ignore[union-attr]
    assert "CANCELLED" in one_line_error(invoke("cancel", run_id))


# ---------------------------------------------------------------- queues and keys


def test_work_queue_commands(invoke: Invoke, api: FlowsClient, deployment: str) -> None:
    name = unique("gpu")
    created = invoke("work-queue", "create", name, "--tag", "gpu", "--concurrency-limit", "2")
    assert created.exit_code == 0 and f"Created work queue {name}" in created.output
    listed = invoke("work-queue", "ls").output
    assert name in listed and "gpu" in listed
    assert "Paused" in invoke("work-queue", "pause", name).output
    assert api.get_work_queue(name).paused
    assert "Resumed" in invoke("work-queue", "resume", name).output
    assert "already exists" in one_line_error(invoke("work-queue", "create", name))
    invoke("run", deployment)
    preview = invoke("work-queue", "preview", "default").output
    assert "no agent is polling work queue 'default'" in preview
    assert "no-such" in one_line_error(invoke("work-queue", "preview", "no-such"))


def test_api_key_commands(invoke: Invoke, flows_server: FlowsServer) -> None:
    name = unique("ci")
    created = invoke("api-key", "create", name, "--role", "agent", "--json")
    key = json.loads(created.output)
    assert key["role"] == "agent" and key["token"].startswith("jf_")
    listed = invoke("api-key", "ls").output
    assert name in listed and key["token"] not in listed
    # An agent key reads only the runs its agents hold (no list of every run); no keys.
    agent_env = {"JUPYTER_FLOWS_API_KEY": key["token"]}
    assert "only a user key may" in one_line_error(invoke("runs", "ls", env=agent_env))
    assert "only a user key may" in one_line_error(invoke("api-key", "ls", env=agent_env))
    assert "Revoked" in invoke("api-key", "revoke", key["id"]).output
    assert "the API key sent was refused" in one_line_error(invoke("runs", "ls", env=agent_env))


# ---------------------------------------------------------------- reaching the server


def test_an_unreachable_server_is_one_line_naming_it(invoke: Invoke) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/flows/"
    result = invoke("runs", "ls", env={"JUPYTER_FLOWS_API_URL": url})
    assert result.exit_code == 1
    assert one_line_error(result) == (
        f"Error: cannot reach the jupyter-flows server at {url}: [Errno 111] Connection refused"
    )


def test_a_wrong_key_is_refused(invoke: Invoke) -> None:
    result = invoke("runs", "ls", env={"JUPYTER_FLOWS_API_KEY": "jf_wrong"})
    assert result.exit_code == 1
    assert one_line_error(result) == (
        "Error: the API key sent was refused: it is wrong, revoked, or another server's"
    )


# ---------------------------------------------------------------- the event stream


@pytest.fixture
def watcher(flows_server: FlowsServer) -> Iterator[Callable[..., queue.Queue[str]]]:
    """``jupyter flows watch …`` in a subprocess; its stdout lines arrive on a queue."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> queue.Queue[str]:
        env = {**os.environ, **flows_server.env(), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_flows.cli", "watch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        procs.append(proc)
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
        return lines

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(PATIENCE)


def read_until(lines: queue.Queue[str], text: str) -> list[str]:
    seen: list[str] = []
    while not any(text in line for line in seen):
        seen.append(lines.get(timeout=PATIENCE))
    return seen


def test_watch_prints_events_of_one_run(
    watcher: Callable[..., queue.Queue[str]], api: FlowsClient
) -> None:
    run = api.create_flow_run(
        {"name": unique("watched"), "flow_name": "adhoc-watch", "state": {"type": "PENDING"}}
    )
    other = api.create_flow_run(
        {"name": unique("ignored"), "flow_name": "adhoc-watch", "state": {"type": "PENDING"}}
    )
    lines = watcher("--run", run.id)
    read_until(lines, "Watching")
    api.set_flow_run_state(other.id, "RUNNING")
    api.set_flow_run_state(run.id, "RUNNING")
    api.create_logs(
        [
            {
                "flow_run_id": run.id,
                "level": 40,
                "message": "boom",
                "timestamp": "2026-01-01T00:00:00+00:00",
            }
        ]
    )
    api.set_flow_run_state(run.id, "FAILED")
    seen = read_until(lines, "Failed")
    text = "".join(seen)
    assert "Running" in text and "ERROR" in text and "boom" in text
    assert other.id[-8:] not in text and other.name not in text


def test_register_offers_to_store_the_secrets_it_left_out(
    invoke: Invoke, api: FlowsClient, tmp_path: Path
) -> None:
    script = tmp_path / "secretive.py"
    script.write_text(EXAMPLE.read_text().replace("def etl(", "def secretive_flow("))
    variable = f"SECRETIVE_{uuid.uuid4().hex[:6].upper()}_TOKEN"
    name = variable.lower().replace("_", "-")
    env = {variable: "s3cr3t-value"}

    # Not at a terminal and not asked to: nothing is stored, the user is told how.
    told = invoke("register", str(script), env=env)
    assert told.exit_code == 0, told.output
    assert variable in told.output and "--store-secrets" in told.output
    assert name not in {c.name for c in api.iterate(api.list_credentials)}

    stored = invoke("register", str(script), "--store-secrets", env=env)
    assert stored.exit_code == 0, stored.output
    assert f"Stored credential {name} (runs see it as ${variable})" in stored.output
    assert "registered as new version 2" in stored.output  # the spec now references it
    credential = next(c for c in api.iterate(api.list_credentials) if c.name == name)
    assert credential.env == variable
    version_id = re.search(r"version (\w+)\)", stored.output).group(1)  # type: ignore[union-attr]
    assert name in api.get_resource_spec(version_id)["resource_spec"]["credentials"]

    # Stored already: referenced as it is, its value left alone.
    again = invoke("register", str(script), "--store-secrets", env={variable: "other"})
    assert f"from the stored credential {name!r}" in again.output
    assert "unchanged: still version 2" in again.output


def test_agent_start_takes_a_dask_address_only_with_dask(invoke: Invoke) -> None:
    refused = invoke("agent", "start", "--dask-address", "tcp://127.0.0.1:8786")
    assert refused.exit_code == 2
    assert "--dask-address goes with --infra dask" in refused.output
