"""Fencing end to end: an agent paused (SIGSTOP) across the reaper's threshold, resumed
(SIGCONT) after its run was crashed, retried and completed by another agent.

Before attempts had leases, the resumed agent was told its run must stop and reported it
Cancelled ("killed by signal SIGTERM"), over the retry that had completed it, and a stale
attempt could report its own end too. Now the first attempt is fenced: its process stops
(by itself when the server refuses its batch, or by its agent when a heartbeat says so),
and nothing it or its agent sends changes the run.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_agents_e2e import (
    Agents,
    api_of,
    deploy,
    final,
    new_queue,
    state_type,
    wait_for,
)
from tests.flows_server import FlowsServer

FLOWS = """
import os
import time
from pathlib import Path

from jupyter_flows import flow


@flow(retries=1)
def stalls_once(folder: str, hold: bool = True) -> str:
    here = Path(folder)
    first = not (here / "attempt-1").exists()
    name = "attempt-1" if first else "attempt-2"
    (here / name).write_text(str(os.getpid()))
    with open(here / "bodies", "a") as out:
        out.write(name + "\\n")
    if first:
        while hold and not (here / "release").exists():
            time.sleep(0.1)
        if not hold:
            time.sleep(600)
    return name
"""


@pytest.fixture(scope="module")
def fast_reaper(tmp_path_factory: pytest.TempPathFactory) -> FlowsServer:
    server = FlowsServer(tmp_path_factory.mktemp("fencing"), extra_args=["--reaper-threshold=3"])
    server.start()
    yield server  # type: ignore[misc]
    server.stop()


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not reaped by its paused parent, does
    not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _history(api, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.name for s in api.get_flow_run_states(run_id)]


def _paused_then_retried(
    server: FlowsServer, tmp_path: Path, agents: Agents, hold: bool
) -> tuple[Any, str, int]:
    """Run the flow on agent A, pause A until the reaper crashed the run and agent B has
    completed the retry; returns (A's process, the run id, attempt 1's pid)."""
    flows_file = tmp_path / "fencing_flows.py"
    flows_file.write_text(FLOWS)
    queue = new_queue()
    folder = tmp_path / "side-effects"
    folder.mkdir()
    with api_of(server) as api:
        deployment = deploy(api, flows_file, "stalls_once", queue)
        paused = agents.start(queue, "paused")
        run = api.run_deployment(deployment, {"folder": str(folder), "hold": hold})
        wait_for("attempt 1 to start", (folder / "attempt-1").exists)
        wait_for("Running", lambda: state_type(api, run.id) == "RUNNING")
        pid = int((folder / "attempt-1").read_text())
        paused.send_signal(signal.SIGSTOP)
        wait_for("the retry", lambda: "AwaitingRetry" in _history(api, run.id))
        agents.start(queue, f"rescuer-{queue}")
        ended = final(api, run.id)
        assert ended.state is not None and ended.state.type == "COMPLETED"
    return paused, run.id, pid


def _check_untouched(server: FlowsServer, run_id: str, folder: Path) -> None:
    with api_of(server) as api:
        time.sleep(3)  # several heartbeats of the resumed agent
        run = api.get_flow_run(run_id)
        history = _history(api, run_id)
    assert run.state is not None and run.state.type == "COMPLETED", history
    assert run.run_count == 2
    assert "Cancelled" not in history and "Cancelling" not in history
    # After the retry, maybe a claim by the paused agent that was handed back, then the
    # attempt that completed.
    last_queued = max(i for i, name in enumerate(history) if name in ("AwaitingRetry", "Scheduled"))
    last = [name for i, name in enumerate(history) if i > last_queued and name != history[i - 1]]
    assert last == ["Pending", "Running", "Completed"], history  # (Pending re-stated: a reason)
    assert history.count("Crashed") == 1, history
    # The body ran once per attempt.
    assert sorted((folder / "bodies").read_text().split()) == ["attempt-1", "attempt-2"]


@pytest.mark.timeout(300)
def test_a_resumed_agent_stops_its_fenced_attempt_without_reporting(
    fast_reaper: FlowsServer, tmp_path: Path
) -> None:
    agents = Agents(fast_reaper, tmp_path)
    try:
        paused, run_id, pid = _paused_then_retried(fast_reaper, tmp_path, agents, hold=False)
        assert _alive(pid)  # attempt 1 still sleeps: only its agent was paused
        paused.send_signal(signal.SIGCONT)
        wait_for("the fenced attempt's process to be stopped", lambda: not _alive(pid))
        _check_untouched(fast_reaper, run_id, tmp_path / "side-effects")
        assert "is fenced" in (tmp_path / "agent-paused.log").read_text()
        assert paused.poll() is None  # the agent itself goes on serving
    finally:
        for proc in agents.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
        agents.stop_all()


@pytest.mark.timeout(300)
def test_a_fenced_run_process_stops_itself_when_its_batch_is_refused(
    fast_reaper: FlowsServer, tmp_path: Path
) -> None:
    agents = Agents(fast_reaper, tmp_path)
    try:
        paused, run_id, pid = _paused_then_retried(fast_reaper, tmp_path, agents, hold=True)
        (tmp_path / "side-effects" / "release").touch()  # attempt 1 returns and reports
        wait_for("the fenced process to end itself", lambda: not _alive(pid))
        paused.send_signal(signal.SIGCONT)
        _check_untouched(fast_reaper, run_id, tmp_path / "side-effects")
    finally:
        for proc in agents.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
        agents.stop_all()


def test_lease_environment_reaches_the_run_process() -> None:
    """The run process finds its attempt's lease where the agent puts it."""
    from jupyter_flows.engine.run_env import RunEnv

    handed = RunEnv(flow_run_id="r1", lease="2:abc").to_environ()
    assert RunEnv.from_environ(handed).lease_of() == {
        "flow_run_id": "r1",
        "attempt": 2,
        "token": "abc",
    }
    assert RunEnv(flow_run_id="r1", lease="two:abc").lease_of() is None
    assert RunEnv(lease="2:abc").lease_of() is None
