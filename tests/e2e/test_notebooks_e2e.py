"""Notebook flows end to end: a real server process, a real agent, both notebook engines.

register (CLI) → deployment → a run the agent executes through
``notebooks.engines.execute_registered`` → Failed with the failing cell's task run Failed
and the cells after it NotReady → a rerun with changed parameters (``request_rerun``: a run
of the same deployment tagged ``rerun-of:<id>``) → Completed, with one task run per cell and
their logs. The tasks engine reruns from the first failed cell (the cells before it that
do not read the parameters are Cached, not run again); the kernel engine refuses that and
reruns from the start, leaving the executed notebook as the run's artifact.

Nothing asserts a duration: waits poll with generous hang guards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_flows.cli.register import request_rerun
from jupyter_flows.client import FlowsClient
from jupyter_flows.client_models import FlowRun
from jupyter_flows.storage import BlobStore
from tests.flows_server import FlowsServer

DATA = Path(__file__).resolve().parents[1] / "data" / "notebooks" / "engines"
#: A bound on waiting for another process (never an expectation of speed).
PATIENCE = 120.0


class Agents:
    """``jupyter flows agent start`` processes started by a test; stopped at its end."""

    def __init__(self, server: FlowsServer, folder: Path) -> None:
        self.server = server
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, queue: str, name: str) -> None:
        env = {**os.environ, **self.server.env()}
        cmd = [sys.executable, "-m", "jupyter_flows.cli", "agent", "start"]
        cmd += ["--queue", queue, "--name", name, "--heartbeat", "0.5"]
        log = (self.folder / f"agent-{name}.log").open("wb")
        self.procs.append(
            subprocess.Popen(cmd, env=env, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)
        )

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
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Code and result storage the CLI, the agent and its runs share; runs work here."""
    monkeypatch.setenv("JUPYTER_FLOWS_STORAGE_URL", str(tmp_path / "blobs"))
    monkeypatch.setenv("JUPYTER_FLOWS_RESULT_STORAGE", str(tmp_path / "results"))
    return tmp_path


@pytest.fixture
def agent_pool(flows_server: FlowsServer, storage: Path) -> Iterator[Agents]:
    made = Agents(flows_server, storage)
    yield made
    made.stop_all()


def api_of(server: FlowsServer) -> FlowsClient:
    return FlowsClient(server.url, server.api_key)


def cli(server: FlowsServer, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_flows.cli", *args],
        env={**os.environ, **server.env()},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def final(api: FlowsClient, run_id: str) -> FlowRun:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        run = api.get_flow_run(run_id)
        if run.state is not None and run.state.is_final:
            return run
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for run {run_id} to end")


def _task_runs(api: FlowsClient, run_id: str) -> dict[str, object]:
    return {t.task_key: t for t in api.iterate(api.list_task_runs, run_id)}


def _messages(api: FlowsClient, run_id: str, task_run_id: str | None = None) -> list[str]:
    return [
        line.message for line in api.iterate(api.get_flow_run_logs, run_id, task_run_id=task_run_id)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["kernel", "tasks"])
def test_a_notebook_runs_on_an_agent_fails_then_reruns_with_new_parameters(
    flows_server: FlowsServer, agent_pool: Agents, storage: Path, engine: str
) -> None:
    queue = f"nb-{uuid.uuid4().hex[:8]}"
    path = storage / f"resume_{engine}.ipynb"
    shutil.copyfile(DATA / "resume.ipynb", path)
    out = cli(
        flows_server, "register", str(path), "--engine", engine, "--queue", queue, cwd=storage
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "parameters (divisor); load (values)" in out.stdout
    agent_pool.start(queue, f"agent-{queue}")

    api = api_of(flows_server)
    (group,) = list(api.iterate(api.list_flows, name=path.stem))
    (deployment,) = list(api.iterate(api.list_deployments, flow_id=group.id))
    assert deployment.work_queue == queue

    failed = final(api, api.run_deployment(deployment.id, {"divisor": 0}).id)
    assert failed.state is not None and failed.state.type == "FAILED", failed.state
    tasks = _task_runs(api, failed.id)
    assert set(tasks) == {"parameters", "load", "count", "divide", "report"}
    states = {key: task.state.name for key, task in tasks.items()}
    assert states["load"] == "Completed" and states["divide"] == "Failed"
    assert states["report"] == "NotReady"
    # the cell as the executed notebook shows it: [5] after papermill's injected parameters
    assert 'cell [5] "ratios = [v / divisor for v in values]"' in tasks["divide"].state.message
    assert "ZeroDivisionError" in tasks["divide"].state.message
    divide_log = _messages(api, failed.id, tasks["divide"].id)
    assert any("ratios = [v / divisor for v in values]" in line for line in divide_log)
    assert tasks["divide"].task_inputs == {
        "divisor": [tasks["parameters"].id],
        "values": [tasks["load"].id],
    }

    if engine == "kernel":
        refused = final(api, request_rerun(api, failed.id, {"divisor": 2}).id)
        assert refused.state is not None and refused.state.type == "FAILED"
        assert "rerun it from the start" in (refused.state.message or "")
    rerun_run = request_rerun(api, failed.id, {"divisor": 2}, from_failed=engine == "tasks")
    assert f"rerun-of:{failed.id}" in rerun_run.tags
    rerun = final(api, rerun_run.id)
    assert rerun.state is not None and rerun.state.type == "COMPLETED", rerun.state
    assert rerun.parameters == {"divisor": 2}
    tasks = _task_runs(api, rerun.id)
    states = {key: task.state.name for key, task in tasks.items()}
    if engine == "tasks":  # from the first failed cell: what does not read divisor is reused
        assert states == {
            "parameters": "Completed",
            "load": "Cached",
            "count": "Cached",
            "divide": "Completed",
            "report": "Completed",
        }
        assert (storage / "load-runs.txt").read_text() == "load\n"
    else:
        assert set(states.values()) == {"Completed"}
    assert "3 ratios, sum 6.0" in _messages(api, rerun.id, tasks["report"].id)

    artifacts = api.request("GET", f"flow-runs/{rerun.id}/artifacts").json()["items"]
    (artifact,) = artifacts  # both engines leave the executed notebook, as papermill would
    assert artifact["type"] == "notebook"
    executed = BlobStore(str(storage / "blobs")).get(artifact["data"]["digest"])
    assert b"injected-parameters" in executed and b"divisor = 2" in executed
    assert b"3 ratios, sum 6.0" in executed
