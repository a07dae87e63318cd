"""The engine's HTTP reporter against a real server process: a @flow run in a subprocess with
JUPYTER_FLOWS_API_URL set is recorded whole, and nothing is lost or doubled while the server
is away in the middle of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.client import FlowsClient
from jupyter_flows.client_models import FlowRun
from tests.flows_server import FlowsServer

#: A bound on waiting for another process (never an expectation of speed).
PATIENCE = 90.0

RECORDED = """
import os

from jupyter_flows import flow, get_run_logger, task

FLOW_NAME = os.environ["FLOW_NAME"]

attempts = []


@task(retries=1)
def flaky(x: int) -> int:
    attempts.append(x)
    if len(attempts) == 1:
        raise ConnectionError("first try fails")
    return x


@task
def square(x: int) -> int:
    get_run_logger().info("squaring %d", x)
    return x * x


@flow(name=FLOW_NAME, log_prints=True)
def recorded(n: int = 3) -> int:
    base = flaky(1)
    total = sum(square.map(range(n)).result()) + base
    print(f"total = {total}")
    return total


if __name__ == "__main__":
    assert recorded(3) == 6
"""

AWAY = """
import sys
import time
from pathlib import Path

from jupyter_flows import flow, get_run_logger, task

SIGNALS = Path(sys.argv[1])
LINES = 25


def wait_for(name: str) -> None:
    deadline = time.monotonic() + 300
    while not (SIGNALS / name).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {name} signal")
        time.sleep(0.02)


@task
def step(i: int) -> int:
    logger = get_run_logger()
    logger.info("step %d started", i)
    (SIGNALS / f"started-{i}").touch()
    wait_for("go")
    for k in range(LINES):
        logger.info("step %d line %d", i, k)
    return i


@flow
def away(n: int = 3) -> int:
    total = sum(step.map(range(n)).result())
    get_run_logger().info("all steps done")
    return total


if __name__ == "__main__":
    assert away(3) == 3
"""


def run_env(server: FlowsServer, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_FLOWS_")}
    return {**base, **server.env(), **extra}


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + PATIENCE
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def runs_of(api: FlowsClient, flow_name: str) -> list[FlowRun]:
    return [r for r in api.iterate(api.list_flow_runs) if r.flow_name == flow_name]


@pytest.mark.parametrize("credential", ["api-key", "jupyter-token"])
def test_a_flow_run_in_a_subprocess_is_recorded_with_tasks_states_and_logs(
    flows_server: FlowsServer, tmp_path: Path, credential: str
) -> None:
    script = tmp_path / "recorded.py"
    script.write_text(textwrap.dedent(RECORDED))
    env = run_env(flows_server, JUPYTER_FLOWS_CONSOLE_LOGS="0", FLOW_NAME=f"rec-{credential}")
    if credential == "jupyter-token":  # as JupyterLab's kernels get it
        del env["JUPYTER_FLOWS_API_KEY"]
        env["JUPYTER_FLOWS_API_TOKEN"] = flows_server.token
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert done.returncode == 0, done.stderr
    assert "jupyter-flows:" not in done.stderr  # no delivery warning

    with FlowsClient(flows_server.url, flows_server.api_key) as api:
        (run,) = runs_of(api, f"rec-{credential}")
        assert run.state is not None and run.state.name == "Completed"
        assert run.parameters == {"n": 3}
        assert [s.name for s in api.get_flow_run_states(run.id)] == [
            "Pending",
            "Running",
            "Completed",
        ]
        task_runs = {t.name: t for t in api.iterate(api.list_task_runs, run.id)}
        assert sorted(task_runs) == ["flaky-0", "square-0", "square-1", "square-2"]
        assert all(t.state is not None and t.state.name == "Completed" for t in task_runs.values())
        assert task_runs["flaky-0"].run_count == 2
        flaky_states = [s.name for s in api.get_task_run_states(task_runs["flaky-0"].id)]
        assert flaky_states == ["Pending", "Running", "Retrying", "Running", "Completed"]

        lines = list(api.iterate(api.get_flow_run_logs, run.id))
        messages = [line.message for line in lines]
        assert "total = 6" in messages
        assert {"squaring 0", "squaring 1", "squaring 2"} <= set(messages)
        by_task = {line.message: line.task_run_id for line in lines}
        assert by_task["squaring 1"] == task_runs["square-1"].id
        assert messages[-1] == "Finished in state Completed"


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsServer]:
    """A server of the test's own: this test stops and restarts it."""
    server = FlowsServer(tmp_path_factory.mktemp("away-server"))
    server.start()
    yield server
    server.stop()


def test_nothing_is_lost_or_doubled_while_the_server_is_away(
    own_server: FlowsServer, tmp_path: Path
) -> None:
    script, signals = tmp_path / "away.py", tmp_path / "signals"
    script.write_text(textwrap.dedent(AWAY))
    signals.mkdir()
    stderr = tmp_path / "run.log"
    env = run_env(own_server, JUPYTER_FLOWS_FLUSH_TIMEOUT="300")
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(signals)], env=env, stderr=err, text=True
        )
    try:
        api = FlowsClient(own_server.url, own_server.api_key)

        def all_running() -> bool:
            runs = runs_of(api, "away")
            if not runs:
                return False
            tasks = list(api.iterate(api.list_task_runs, runs[0].id))
            return len(tasks) == 3 and all(
                t.state is not None and t.state.type == "RUNNING" for t in tasks
            )

        # The run and its three tasks reached the server, and every task waits for "go".
        wait_for(lambda: all((signals / f"started-{i}").exists() for i in range(3)), "tasks")
        wait_for(all_running, "the server to see the tasks running")
        api.close()

        own_server.stop()
        (signals / "go").touch()
        # The run ends while the server is away: the engine logs its end on the console.
        wait_for(lambda: "Finished in state Completed" in stderr.read_text(), "the run to end")
        assert proc.poll() is None  # still flushing: the records wait in its buffer
        assert "cannot deliver run records" in stderr.read_text()

        own_server.start()  # same port, same database
        assert proc.wait(PATIENCE) == 0, stderr.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    with FlowsClient(own_server.url, own_server.api_key) as api:
        (run,) = runs_of(api, "away")
        assert [s.name for s in api.get_flow_run_states(run.id)] == [
            "Pending",
            "Running",
            "Completed",
        ]
        task_runs = list(api.iterate(api.list_task_runs, run.id))
        assert sorted(t.name for t in task_runs) == ["step-0", "step-1", "step-2"]
        for task_run in task_runs:
            states = api.get_task_run_states(task_run.id)
            assert [s.name for s in states] == ["Pending", "Running", "Completed"]
        counts = Counter(line.message for line in api.iterate(api.get_flow_run_logs, run.id))
        expected = {f"step {i} started" for i in range(3)}
        expected |= {f"step {i} line {k}" for i in range(3) for k in range(25)}
        expected |= {"all steps done", "Finished in state Completed"}
        assert expected <= set(counts)
        assert {m: c for m, c in counts.items() if c != 1} == {}  # each line exactly once
