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

import nbformat
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


@pytest.mark.slow
def test_a_notebook_whose_saved_cells_drive_it_with_the_magic_runs_to_completed(
    flows_server: FlowsServer, agent_pool: Agents, storage: Path
) -> None:
    """The README's notebook tour, as a data scientist saves it: the magic in the notebook.

    Registered from the CLI, run by an agent on the kernel engine, followed with
    'run --watch' piped: the magic's cells are left out (and registration says so), the run
    has one name everywhere, the kernel's start-up noise is not in its log, and the other
    magics a notebook holds do what they do in JupyterLab.
    """
    queue = f"nb-{uuid.uuid4().hex[:8]}"
    path = storage / f"tour_{queue}.ipynb"
    cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_flows"),
        nbformat.v4.new_markdown_cell("## Parameters"),
        nbformat.v4.new_code_cell("days = 3", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("## Compute"),
        nbformat.v4.new_code_cell("total = days * 2\nfiles = !ls\nprint('total', total)"),
        nbformat.v4.new_code_cell("%%capture hidden\nprint('not in the log')"),
        nbformat.v4.new_markdown_cell("## Report"),
        nbformat.v4.new_code_cell("print('report:', total, hidden.stdout.strip())\n!echo shell"),
        nbformat.v4.new_code_cell("%flow register --queue q"),
        nbformat.v4.new_code_cell(f"%flow run {path.stem} -p days=4 --wait"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)

    out = cli(flows_server, "register", str(path), "--queue", queue, cwd=storage)
    assert out.returncode == 0, out.stdout + out.stderr
    left_out = [line for line in out.stdout.splitlines() if "left out of the flow" in line]
    assert [line.split(" (")[0] for line in left_out] == ["! cell 0", "! cell 8", "! cell 9"]
    agent_pool.start(queue, f"agent-{queue}")

    refused = cli(flows_server, "run", f"{path.stem}/default", "-p", "dayz=4", cwd=storage)
    assert "(did you mean 'days'?); its parameters are: days" in refused.stderr

    watched = cli(
        flows_server, "run", f"{path.stem}/default", "-p", "days=4", "--watch", cwd=storage
    )
    assert watched.returncode == 0, watched.stdout + watched.stderr
    api = api_of(flows_server)
    (run,) = api.list_flow_runs(flow_id=api.get_flow_run(_run_id(watched.stdout)).flow_id).items
    assert run.state is not None and run.state.type == "COMPLETED", run.state
    tasks = _task_runs(api, run.id)
    assert set(tasks) == {"parameters", "compute", "compute-2", "report"}
    # run --watch: every state of every task, in the server's order, the run's last.
    changes = [line.split(" ", 1)[1] for line in watched.stdout.splitlines() if line[:2].isdigit()]
    for task in tasks.values():
        said = [c.rsplit(" ", 1)[1] for c in changes if c.startswith(f"task run {task.name} ")]
        assert said == ["Pending", "Running", "Completed"], changes
    assert changes[-1] == f"flow run {run.name} Completed"
    assert f"jupyter flows artifacts {run.id} --save ." in watched.stdout

    messages = _messages(api, run.id)
    assert "report: 8 not in the log" in messages and "shell" in messages
    assert f"Beginning flow run {run.name!r} for flow {path.stem!r}" in messages  # one name
    assert not [m for m in messages if "IPKernelApp" in m or "without encryption" in m]
    (artifact,) = api.list_artifacts(run.id).items
    assert artifact.data["name"] == f"{path.stem}-{run.name}.ipynb"


def _run_id(output: str) -> str:
    """The id in 'Created flow run NAME (ID) of deployment …'."""
    return output.split("Created flow run ", 1)[1].split("(", 1)[1].split(")", 1)[0]
