"""The agent against a real server process: one iteration (``run_once``) with a fake clock,
cancellation riding back on the heartbeat, and SIGTERM's warm then cold shutdown.

Nothing here asserts a duration: waits poll the server with generous hang guards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from jupyter_flows.agent.agent import Agent
from jupyter_flows.client import FlowsClient
from jupyter_flows.client_models import FlowRun
from jupyter_flows.spec.python_flows import registration
from tests.flows_server import FlowsServer
from tests.plugins import install_plugins

#: A bound on waiting for another process, never an expectation of speed.
PATIENCE = 90.0
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)

FLOWS = """
import os
import time
from pathlib import Path

from jupyter_flows import flow, get_run_logger, task


@task
def double(x: int) -> int:
    get_run_logger().info("doubling %d", x)
    return 2 * x


@flow
def quick(n: int = 2) -> int:
    print("printed to stdout", flush=True)
    return sum(double.map(range(n)).result())


@flow
def slow(marker: str, seconds: float = 600.0) -> str:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(seconds)
    return "slept"
"""


def wait_for(what: str, check: Callable[[], Any], patience: float = PATIENCE) -> Any:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def api(flows_server: FlowsServer) -> Iterator[FlowsClient]:
    with FlowsClient(flows_server.url, flows_server.api_key) as client:
        yield client


@pytest.fixture
def flows_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent_flows.py"
    path.write_text(FLOWS)
    return path


def deploy(api: FlowsClient, flows_file: Path, flow: str, **run_config: Any) -> tuple[str, str]:
    """(deployment id, queue) of ``flow`` on a queue of its own."""
    queue = f"q-{uuid.uuid4().hex[:8]}"
    # A flow name of its own: same content under one name would keep the first entrypoint.
    body = registration(flows_file, flow=flow, name=f"{flow}-{queue}")
    body["content"]["run_config"].update(run_config)
    version = api.register_flow(**body).version
    deployment = api.create_deployment(version.flow_id, f"d-{queue}", work_queue=queue)
    return deployment.id, queue


def final(api: FlowsClient, run_id: str) -> FlowRun:
    def ended() -> FlowRun | None:
        run = api.get_flow_run(run_id)
        return run if run.state is not None and run.state.is_final else None

    result: FlowRun = wait_for(f"run {run_id} to end", ended)
    return result


def state_of(api: FlowsClient, run_id: str) -> str | None:
    run = api.get_flow_run(run_id)
    return run.state.type if run.state else None


def test_run_once_claims_launches_and_the_run_completes(api: FlowsClient, flows_file: Path) -> None:
    deployment, queue = deploy(api, flows_file, "quick")
    agent = Agent(api, queue, name=f"unit-{queue}", clock=lambda: T0)
    try:
        assert agent.run_once(T0) == 0  # nothing to claim
        run = api.run_deployment(deployment, {"n": 3})
        assert agent.run_once(T0, wait=PATIENCE) == 1
        ended = final(api, run.id)
        assert ended.state is not None and ended.state.type == "COMPLETED"
        assert ended.agent_id == agent.id and ended.run_count == 1
        # Where it ran, as the agent's infrastructure describes itself.
        assert ended.infrastructure == agent.infra.describe()
        assert ended.infrastructure.startswith("local process on ")
        messages = [line.message for line in api.iterate(api.get_flow_run_logs, run.id)]
        assert "doubling 2" in messages  # the engine's logs, through its HTTP reporter
        wait_for(
            "the job log",
            lambda: (
                "printed to stdout"
                in [line.message for line in api.iterate(api.get_flow_run_logs, run.id)]
            ),
        )
        wait_for("the run's thread to end", lambda: agent.collect() or not agent.active)
    finally:
        agent.shutdown()
    agent_logs = [line.message for line in api.iterate(api.get_agent_logs, agent.id or "")]
    assert any("launching" in message for message in agent_logs)
    # What the agent did with this run is in the run's own log too, as the source "agent".
    lines = api.iterate(api.get_flow_run_logs, run.id)
    by_agent = [line.message for line in lines if line.name == "jupyter_flows.agent"]
    assert any("launching by agent" in message for message in by_agent), by_agent
    assert all(run.id in message for message in by_agent)
    assert api.get_agent(agent.id or "").status == "offline"


def test_run_once_heartbeats_on_its_clock(api: FlowsClient, flows_file: Path) -> None:
    _, queue = deploy(api, flows_file, "quick")
    beats: list[datetime] = []
    agent = Agent(api, queue, name=f"beat-{queue}", heartbeat_interval=10, ship_logs=False)
    original = agent.heartbeat

    def counted(now: datetime | None = None) -> list[str]:
        beats.append(now or T0)
        return original(now)

    agent.heartbeat = counted  # type: ignore[method-assign]
    try:
        for seconds in (0, 5, 9, 10, 15, 21):
            agent.run_once(T0 + timedelta(seconds=seconds))
        assert beats == [T0 + timedelta(seconds=s) for s in (0, 10, 21)]
    finally:
        agent.shutdown()


def test_the_limit_stops_claiming(api: FlowsClient, flows_file: Path, tmp_path: Path) -> None:
    deployment, queue = deploy(api, flows_file, "slow")
    runs = [
        api.run_deployment(deployment, {"marker": str(tmp_path / f"m{i}")}).id for i in range(2)
    ]
    agent = Agent(api, queue, name=f"limit-{queue}", limit=1, grace=0)
    try:
        assert agent.run_once(wait=PATIENCE) == 1
        assert agent.run_once(wait=PATIENCE) == 0  # full: no claim at all
        assert sorted(state_of(api, r) or "" for r in runs)[1] == "SCHEDULED"
    finally:
        agent.shutdown()
    assert {state_of(api, r) for r in runs} <= {"SCHEDULED", "CANCELLED"}


def test_cancellation_reaches_the_agent_on_its_heartbeat(
    api: FlowsClient, flows_file: Path, tmp_path: Path
) -> None:
    deployment, queue = deploy(api, flows_file, "slow")
    marker = tmp_path / "started"
    run = api.run_deployment(deployment, {"marker": str(marker)})
    agent = Agent(api, queue, name=f"cancel-{queue}")
    try:
        assert agent.run_once(wait=PATIENCE) == 1
        wait_for("the flow to start", marker.exists)
        wait_for("Running", lambda: state_of(api, run.id) == "RUNNING")
        pid = int(marker.read_text())
        api.cancel_flow_run(run.id)
        assert state_of(api, run.id) == "CANCELLING"
        assert agent.heartbeat() == [run.id]
        ended = final(api, run.id)
        assert ended.state is not None and ended.state.type == "CANCELLED"
        wait_for("the process to be gone", lambda: not _alive(pid))
    finally:
        agent.shutdown()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _agent_process(server: FlowsServer, queue: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **server.env()}
    cmd = [sys.executable, "-m", "jupyter_flows.agent", "--queue", queue, "--heartbeat", "1"]
    return subprocess.Popen([*cmd, *args], env=env, stderr=subprocess.PIPE)


def test_sigterm_lets_running_work_finish(
    api: FlowsClient, flows_server: FlowsServer, flows_file: Path, tmp_path: Path
) -> None:
    deployment, queue = deploy(api, flows_file, "slow")
    marker = tmp_path / "started"
    run = api.run_deployment(deployment, {"marker": str(marker), "seconds": 2.0})
    agent = _agent_process(flows_server, queue, "--name", f"warm-{queue}", "--grace", "120")
    try:
        wait_for("the flow to start", marker.exists)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(PATIENCE) == 0
    finally:
        agent.kill()
    ended = api.get_flow_run(run.id)
    assert ended.state is not None and ended.state.type == "COMPLETED"
    # It stopped claiming: a run made now waits, and says there is no agent.
    later = api.run_deployment(deployment, {"marker": str(tmp_path / "later")})
    reason = api.get_pending_reason(later.id)
    assert reason.pending_reason == f"no agent is polling work queue {queue!r}"


def test_sigterm_after_the_grace_cancels_what_remains_and_a_second_is_cold(
    api: FlowsClient, flows_server: FlowsServer, flows_file: Path, tmp_path: Path
) -> None:
    deployment, queue = deploy(api, flows_file, "slow")
    marker = tmp_path / "started"
    run = api.run_deployment(deployment, {"marker": str(marker)})
    agent = _agent_process(flows_server, queue, "--name", f"grace-{queue}", "--grace", "0.5")
    try:
        wait_for("the flow to start", marker.exists)
        wait_for("Running", lambda: state_of(api, run.id) == "RUNNING")
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(PATIENCE) == 0
    finally:
        agent.kill()
    ended = api.get_flow_run(run.id)
    assert ended.state is not None and ended.state.type == "CANCELLED"
    assert not _alive(int(marker.read_text()))

    # Cold: a second signal stops the running work at once, whatever the grace.
    second = tmp_path / "second"
    run = api.run_deployment(deployment, {"marker": str(second)})
    agent = _agent_process(flows_server, queue, "--name", f"cold-{queue}", "--grace", "600")
    try:
        wait_for("the flow to start", second.exists)
        wait_for("Running", lambda: state_of(api, run.id) == "RUNNING")
        agent.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(PATIENCE) == 0
    finally:
        agent.kill()
    assert final(api, run.id).state.type == "CANCELLED"  # type: ignore[union-attr]


def test_a_claimed_run_that_never_started_is_handed_back(
    api: FlowsClient, flows_file: Path
) -> None:
    deployment, queue = deploy(api, flows_file, "quick")
    agent = Agent(api, queue, name=f"handback-{queue}", ship_logs=False)
    agent.register()
    run = api.run_deployment(deployment, {"n": 1})
    claimed = api.claim(queue, agent.id or "")
    assert claimed is not None and claimed.id == run.id
    agent.shutdown()  # it never launched it: the offline heartbeat gives it back
    assert state_of(api, run.id) == "SCHEDULED"


def test_execute_reports_a_flow_that_cannot_load(
    api: FlowsClient, flows_file: Path, tmp_path: Path
) -> None:
    deployment, queue = deploy(api, flows_file, "quick")
    flows_file.write_text(textwrap.dedent(FLOWS) + "\nraise RuntimeError('broken module')\n")
    run = api.run_deployment(deployment, {"n": 1})
    agent = Agent(api, queue, name=f"broken-{queue}")
    try:
        assert agent.run_once(wait=PATIENCE) == 1
        ended = final(api, run.id)
    finally:
        agent.shutdown()
    assert ended.state is not None and ended.state.type == "FAILED"
    assert "broken module" in (ended.state.message or "")


def test_a_run_this_agent_cannot_start_fails_with_the_reason(
    api: FlowsClient, flows_file: Path
) -> None:
    deployment, queue = deploy(api, flows_file, "quick", credentials=["warehouse-password"])
    run = api.run_deployment(deployment, {"n": 1})
    agent = Agent(api, queue, name=f"nocred-{queue}")
    try:
        assert agent.run_once(wait=PATIENCE) == 1
        ended = final(api, run.id)
    finally:
        agent.shutdown()
    assert ended.state is not None and ended.state.type == "FAILED"
    assert "credential 'warehouse-password' has no value" in (ended.state.message or "")


def test_run_config_env_and_interpreter_reach_the_process(
    api: FlowsClient, flows_file: Path, tmp_path: Path
) -> None:
    flows_file.write_text(
        FLOWS
        + textwrap.dedent(
            """
            @flow
            def env_probe(out: str) -> None:
                import sys
                Path(out).write_text(os.environ["MODE"] + " " + sys.executable)
            """
        )
    )
    deployment, queue = deploy(
        api, flows_file, "env_probe", env={"MODE": "nightly"}, python=sys.executable
    )
    out = tmp_path / "env.txt"
    run = api.run_deployment(deployment, {"out": str(out)})
    agent = Agent(api, queue, name=f"env-{queue}")
    try:
        assert agent.run_once(wait=PATIENCE) == 1
        assert final(api, run.id).state.type == "COMPLETED"  # type: ignore[union-attr]
    finally:
        agent.shutdown()
    assert out.read_text() == f"nightly {sys.executable}"


def test_a_run_on_a_third_party_infrastructure_completes(
    api: FlowsClient, flows_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An infrastructure from another package, found by name through its entry point; it
    says it runs on this machine, so the run gets the agent's interpreter and pid."""
    from jupyter_flows.agent.infra import base

    monkeypatch.setattr(base, "INFRASTRUCTURES", base.INFRASTRUCTURES.copy())
    install_plugins(tmp_path / "plugins", monkeypatch)
    starts = tmp_path / "starts.txt"
    monkeypatch.setenv("FLOWS_DEMO_LOG", str(starts))
    deployment, queue = deploy(api, flows_file, "quick")
    run = api.run_deployment(deployment, {"n": 3})
    agent = Agent(api, queue, name=f"plugin-{queue}", infrastructure="plain-process")
    try:
        assert type(agent.infra).__module__ == "flows_demo_plugins.infra"
        assert agent.run_once(wait=PATIENCE) == 1
        ended = final(api, run.id)
    finally:
        agent.shutdown()
    assert ended.state is not None and ended.state.type == "COMPLETED", ended.state
    assert starts.read_text().split() == [run.id, agent.python, "True"]


def test_a_run_on_kubernetes_jobs_completes(
    api: FlowsClient, flows_file: Path, fake_k8s_exec: Any
) -> None:
    """The same agent on the Kubernetes Job infrastructure, against the fake API server
    whose kubelet runs each pod's command as a local process."""
    from jupyter_flows.agent.infra.kubernetes import KubernetesJob

    resources = {"image": "python:3.11-slim", "cpu": "250m", "memory": "256Mi"}
    deployment, queue = deploy(api, flows_file, "quick", python=sys.executable, resources=resources)
    run = api.run_deployment(deployment, {"n": 3})
    agent = Agent(
        api, queue, name=f"k8s-{queue}", infrastructure=KubernetesJob(host=fake_k8s_exec.url)
    )
    try:
        assert agent.run_once(wait=PATIENCE) == 1
        ended = final(api, run.id)
    finally:
        agent.shutdown()
    assert ended.state is not None and ended.state.type == "COMPLETED", ended.state
    wait_for(
        "the pod's output as the job log",
        lambda: (
            "printed to stdout"
            in [line.message for line in api.iterate(api.get_flow_run_logs, run.id)]
        ),
    )
