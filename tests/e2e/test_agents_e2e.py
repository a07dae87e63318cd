"""Agents end to end: a real standalone server process, real agent processes, real runs.

register → deployment → run → Completed on local processes and on Dask; 4 agents and 400
runs with every run executed exactly once (each run appends its id to a file: the table of
run id → executions is checked); kill -9 of an agent in the middle of a run (the reaper
crashes the run, the flow's retry policy schedules a new attempt, another agent completes
it) and of a run's process (the agent reports it Crashed); pending reasons through the CLI.

Nothing asserts a duration: waits poll with generous hang guards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.client import FlowsClient
from jupyter_flows.client_models import FlowRun
from jupyter_flows.spec.python_flows import registration
from tests.flows_server import FlowsServer

PATIENCE = 120.0

FLOWS = """
import os
import time
from pathlib import Path

from jupyter_flows import flow, get_run_logger, task
from jupyter_flows.engine.context import flow_run_context


@task
def square(x: int) -> int:
    get_run_logger().info("squaring %d on a worker", x)
    return x * x


@flow(log_prints=True)
def squares(n: int = 3) -> int:
    total = sum(square.map(range(n)).result())
    print(f"total = {total}")
    return total


@task
def where(x: int) -> int:
    from distributed import get_worker

    get_worker()  # raises outside a Dask worker
    get_run_logger().info("task %d ran in Dask worker process %d", x, os.getpid())
    return x * x


@flow(log_prints=True)
def on_dask(n: int = 3) -> int:
    total = sum(where.map(range(n)).result())
    print(f"total = {total}; flow process {os.getpid()}")
    return total


@flow
def trivial(ledger: str) -> None:
    run_id = flow_run_context.get().flow_run.id
    with open(ledger, "a") as out:
        out.write(run_id + "\\n")


@flow
def sleeper(marker: str, seconds: float = 600.0) -> str:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return "woke"


@flow(retries=1)
def crash_once(marker: str) -> str:
    if Path(marker).exists():
        return "second attempt"
    Path(marker).write_text(str(os.getpid()))
    time.sleep(600)
    return "never"
"""


def wait_for(what: str, check: Callable[[], Any], patience: float = PATIENCE) -> Any:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture(scope="module")
def fast_reaper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsServer]:
    """A server whose reaper takes an agent silent for 3 s for dead."""
    server = FlowsServer(
        tmp_path_factory.mktemp("reaper-server"), extra_args=["--reaper-threshold=3"]
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "e2e_flows.py"
    path.write_text(FLOWS)
    return path


class Agents:
    """Agent processes started by a test; all stopped (then killed) at its end."""

    def __init__(self, server: FlowsServer, folder: Path) -> None:
        self.server = server
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, queue: str, name: str, *args: str, cli: bool = False) -> subprocess.Popen:
        env = {**os.environ, **self.server.env()}
        if cli:
            cmd = [sys.executable, "-m", "jupyter_flows.cli", "agent", "start"]
        else:
            cmd = [sys.executable, "-m", "jupyter_flows.agent"]
        cmd += ["--queue", queue, "--name", name, "--heartbeat", "0.5", *args]
        log = (self.folder / f"agent-{name}.log").open("wb")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def agents(flows_server: FlowsServer, tmp_path: Path) -> Iterator[Agents]:
    made = Agents(flows_server, tmp_path)
    yield made
    made.stop_all()


def api_of(server: FlowsServer) -> FlowsClient:
    return FlowsClient(server.url, server.api_key)


def deploy(api: FlowsClient, flows_file: Path, flow: str, queue: str, **run_config: Any) -> str:
    body = registration(flows_file, flow=flow, name=f"{flow}-{queue}")
    body["content"]["run_config"].update(run_config)
    version = api.register_flow(**body).version
    return api.create_deployment(version.flow_id, "e2e", work_queue=queue).id


def final(api: FlowsClient, run_id: str, patience: float = PATIENCE) -> FlowRun:
    def ended() -> FlowRun | None:
        run = api.get_flow_run(run_id)
        return run if run.state is not None and run.state.is_final else None

    result: FlowRun = wait_for(f"run {run_id} to end", ended, patience)
    return result


def cli(server: FlowsServer, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **server.env()}
    return subprocess.run(
        [sys.executable, "-m", "jupyter_flows.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def state_type(api: FlowsClient, run_id: str) -> str | None:
    state = api.get_flow_run(run_id).state
    return state.type if state is not None else None


def new_queue() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


def test_register_deploy_run_completes_on_a_local_agent(
    flows_server: FlowsServer, agents: Agents, flows_file: Path
) -> None:
    queue = new_queue()
    name = f"squares-{queue}"
    out = cli(flows_server, "register", str(flows_file), "--flow", "squares", "--name", name)
    assert out.returncode == 0, out.stderr
    out = cli(flows_server, "deployment", "create", name, "nightly", "--queue", queue)
    assert out.returncode == 0, out.stderr
    agents.start(queue, f"local-{queue}", cli=True)
    out = cli(flows_server, "run", f"{name}/nightly", "-p", "n=4", "--watch")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Completed" in out.stdout

    with api_of(flows_server) as api:
        runs = api.list_flow_runs(state=["COMPLETED"], limit=500).items
        run = next(r for r in runs if r.work_queue == queue)
        messages = [line.message for line in api.iterate(api.get_flow_run_logs, run.id)]
        assert "total = 14" in messages
    listed = cli(flows_server, "agent", "ls")
    assert f"local-{queue}" in listed.stdout
    logs = cli(flows_server, "agent", "logs", f"local-{queue}")
    assert "launching" in logs.stdout, logs.stdout + logs.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_dask_runs_the_tasks_on_a_local_cluster_and_their_logs_arrive(
    flows_server: FlowsServer, agents: Agents, flows_file: Path
) -> None:
    pytest.importorskip("distributed")
    queue = new_queue()
    with api_of(flows_server) as api:
        deployment = deploy(api, flows_file, "on_dask", queue, resources={"cpu": 2})
        agents.start(queue, f"dask-{queue}", "--infra", "dask")
        run = api.run_deployment(deployment, {"n": 5})
        ended = final(api, run.id)
        assert ended.state is not None and ended.state.type == "COMPLETED", ended.state
        messages = [line.message for line in api.iterate(api.get_flow_run_logs, run.id)]
        task_runs = list(api.iterate(api.list_task_runs, run.id))
    total = next(m for m in messages if m.startswith("total = 30"))
    flow_pid = int(total.rsplit(" ", 1)[1])
    worker_lines = [m for m in messages if "ran in Dask worker process" in m]
    assert len(worker_lines) == 5  # logged on the workers, replayed into the run's log
    worker_pids = {int(m.rsplit(" ", 1)[1]) for m in worker_lines}
    assert flow_pid not in worker_pids  # worker processes of a LocalCluster, not the flow's
    assert len(task_runs) == 5
    assert all(t.state and t.state.type == "COMPLETED" for t in task_runs)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_four_agents_run_four_hundred_runs_exactly_once(
    flows_server: FlowsServer, agents: Agents, flows_file: Path, tmp_path: Path
) -> None:
    queue = new_queue()
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    with api_of(flows_server) as api:
        deployment = deploy(api, flows_file, "trivial", queue)
        names = [f"many-{i}-{queue}" for i in range(4)]
        for name in names:
            agents.start(queue, name, "--limit", "3")
        runs = [api.run_deployment(deployment, {"ledger": str(ledger)}).id for _ in range(400)]

        def all_ended() -> bool:
            page = api.list_flow_runs(
                deployment_id=deployment, state=["COMPLETED", "FAILED", "CRASHED"], limit=1
            )
            return page.total >= len(runs)

        wait_for("400 runs to end", all_ended, patience=600)
        ended = list(api.iterate(api.list_flow_runs, deployment_id=deployment))
        agent_ids = {a.id for a in api.iterate(api.list_agents) if a.name in names}

    executions = Counter(ledger.read_text().split())
    table = {run_id: executions.get(run_id, 0) for run_id in runs}
    assert set(executions) == set(runs)
    assert [run_id for run_id, n in table.items() if n != 1] == []
    assert {r.state.type for r in ended if r.state} == {"COMPLETED"}
    assert all(r.run_count == 1 and r.agent_id in agent_ids for r in ended)
    assert len({r.agent_id for r in ended}) == 4  # every agent took part


@pytest.mark.timeout(300)
def test_kill_9_of_the_agent_mid_run_crashes_the_run_and_it_is_retried(
    fast_reaper: FlowsServer, flows_file: Path, tmp_path: Path
) -> None:
    made = Agents(fast_reaper, tmp_path)
    queue = new_queue()
    marker = tmp_path / "attempt-1"
    try:
        with api_of(fast_reaper) as api:
            deployment = deploy(api, flows_file, "crash_once", queue)
            assert api.get_deployment(deployment)
            first = made.start(queue, f"doomed-{queue}")
            run = api.run_deployment(deployment, {"marker": str(marker)})
            wait_for("the first attempt to start", marker.exists)
            wait_for("Running", lambda: state_type(api, run.id) == "RUNNING")
            pid = int(marker.read_text())
            first.kill()  # kill -9: no goodbye, no more heartbeats
            first.wait(30)
            wait_for("the orphaned run process to end", lambda: not _alive(pid))

            def retried() -> bool:
                names = [s.name for s in api.get_flow_run_states(run.id)]
                return "AwaitingRetry" in names

            wait_for("the reaper to crash and reschedule the run", retried)
            made.start(queue, f"rescuer-{queue}")
            ended = final(api, run.id)
            states = [s.name for s in api.get_flow_run_states(run.id)]
            agent = next(a for a in api.iterate(api.list_agents) if a.name == f"doomed-{queue}")
        assert ended.state is not None and ended.state.type == "COMPLETED"
        assert ended.run_count == 2
        assert states.index("Crashed") < states.index("AwaitingRetry") < len(states) - 1
        assert agent.status == "offline"
    finally:
        made.stop_all()


def test_kill_9_of_the_run_process_crashes_the_run(
    flows_server: FlowsServer, agents: Agents, flows_file: Path, tmp_path: Path
) -> None:
    queue = new_queue()
    marker = tmp_path / "started"
    with api_of(flows_server) as api:
        deployment = deploy(api, flows_file, "sleeper", queue)
        agents.start(queue, f"victim-{queue}")
        run = api.run_deployment(deployment, {"marker": str(marker)})
        wait_for("the run to start", marker.exists)
        wait_for("Running", lambda: state_type(api, run.id) == "RUNNING")
        os.kill(int(marker.read_text()), signal.SIGKILL)
        ended = final(api, run.id)
    assert ended.state is not None and ended.state.type == "CRASHED"
    assert "killed by signal SIGKILL" in (ended.state.message or "")


def test_pending_reasons_through_the_cli(
    flows_server: FlowsServer, agents: Agents, flows_file: Path, tmp_path: Path
) -> None:
    queue = new_queue()
    with api_of(flows_server) as api:
        api.create_work_queue(queue, concurrency_limit=1)
        deployment = deploy(api, flows_file, "sleeper", queue)
        holder = api.run_deployment(deployment, {"marker": str(tmp_path / "holder")})
        waiter = api.run_deployment(deployment, {"marker": str(tmp_path / "waiter")})

        def says(run_id: str) -> str:
            out = cli(flows_server, "pending", run_id)
            assert out.returncode == 0, out.stderr
            return " ".join(out.stdout.split())

        assert f"no agent is polling work queue '{queue}'" in says(holder.id)
        api.pause_work_queue(queue)
        assert f"work queue '{queue}' is paused" in says(holder.id)
        api.resume_work_queue(queue)
        agents.start(queue, f"holder-{queue}")
        wait_for("the first run to start", (tmp_path / "holder").exists)
        held = says(waiter.id)
        assert "concurrency limit 1 reached, held by" in held and holder.name in held
        as_json = json.loads(cli(flows_server, "pending", holder.id, "--json").stdout)
        assert as_json["due"] is False and as_json["pending_reason"] is None
        api.cancel_flow_run(holder.id)
        api.cancel_flow_run(waiter.id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
