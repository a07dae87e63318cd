"""A credential end to end: stored with the CLI, injected by an agent into a run that
prints, logs, encodes, shows and raises with it, and found nowhere but as ``***``: not in
the run's logs, its error, its output notebook, the server's SQLite file or the blob store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from jupyter_flows.client import FlowsClient
from jupyter_flows.storage import BlobStore
from tests.e2e.test_notebooks_e2e import Agents, final
from tests.flows_server import FlowsServer

SECRET = "s3cr3t-Value-" + uuid.uuid4().hex[:12]
PATIENCE = 120.0

CELLS = [
    "import base64, os, sys\nfrom jupyter_flows import get_run_logger\n"
    "secret = os.environ['DB_PASSWORD']",
    "print('the password is', secret)\nprint(secret[:7], end='', flush=True)\nprint(secret[7:])",
    "try:\n    log = get_run_logger()\n"
    "except Exception:  # the kernel engine's cells run in a kernel, outside the run\n"
    "    import logging\n    log = logging.getLogger('leaky')\n"
    "log.warning('logged: %s', secret)\n"
    "print('basic', base64.b64encode(f'user:{secret}'.encode()).decode())",
    "secret",
    "raise ValueError(f'cannot connect with {secret}')",
]


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_FLOWS_STORAGE_URL", str(tmp_path / "blobs"))
    monkeypatch.setenv("JUPYTER_FLOWS_RESULT_STORAGE", str(tmp_path / "results"))
    return tmp_path


@pytest.fixture
def agents(flows_server: FlowsServer, storage: Path) -> Iterator[Agents]:
    made = Agents(flows_server, storage)
    yield made
    made.stop_all()


def cli(
    server: FlowsServer, *args: str, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_flows.cli", *args],
        env={**os.environ, **server.env()},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )


def _notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source, id=f"cell-{i}") for i, source in enumerate(CELLS)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["tasks", "kernel"])
def test_a_secret_reaches_the_run_and_nothing_it_reports(
    flows_server: FlowsServer, agents: Agents, storage: Path, engine: str
) -> None:
    name = f"db-{uuid.uuid4().hex[:6]}"
    added = cli(
        flows_server, "credential", "add", name, "--env", "DB_PASSWORD", cwd=storage, stdin=SECRET
    )
    assert added.returncode == 0, added.stderr
    assert "DB_PASSWORD" in added.stdout and SECRET not in added.stdout
    listed = cli(flows_server, "credential", "ls", "--json", cwd=storage)
    assert name in listed.stdout and SECRET not in listed.stdout

    queue = f"cred-{uuid.uuid4().hex[:8]}"
    path = storage / f"leaky_{queue}.ipynb"
    _notebook(path)
    args = ["register", str(path), "--engine", engine, "--queue", queue, "--credential", name]
    registered = cli(flows_server, *args, cwd=storage)
    assert registered.returncode == 0, registered.stdout + registered.stderr
    agents.start(queue, f"agent-{queue}")

    api = FlowsClient(flows_server.url, flows_server.api_key)
    (group,) = list(api.iterate(api.list_flows, name=path.stem))
    (deployment,) = list(api.iterate(api.list_deployments, flow_id=group.id))
    run = final(api, api.run_deployment(deployment.id, {}).id)
    assert run.state is not None and run.state.type == "FAILED", run.state

    messages = [line.message for line in api.iterate(api.get_flow_run_logs, run.id)]
    text = "\n".join(messages)
    assert SECRET not in text and SECRET[7:] not in text, text
    assert "the password is ***" in text and "logged: ***" in text, text
    # The run saw the real value: the masks are where it was printed and logged.
    tasks = {t.task_key: t for t in api.iterate(api.list_task_runs, run.id)}
    failed = [t for t in tasks.values() if t.state is not None and t.state.type == "FAILED"]
    assert failed and all(SECRET not in (t.state.message or "") for t in failed)
    assert any("cannot connect with ***" in (t.state.message or "") for t in failed)
    assert SECRET not in (run.state.message or "")

    artifacts = api.request("GET", f"flow-runs/{run.id}/artifacts").json()["items"]
    (artifact,) = artifacts
    executed = BlobStore(str(storage / "blobs")).get(artifact["data"]["digest"])
    assert SECRET.encode() not in executed and b"***" in executed

    # Byte scans: the server's database (every table, the WAL too) and the blob store.
    time.sleep(0.5)
    for folder in (flows_server.folder, storage / "blobs"):
        for file in folder.rglob("*"):
            if file.is_file():
                assert SECRET.encode() not in file.read_bytes(), file


DASK_FLOWS = """
import os

from jupyter_flows import flow, get_run_logger, task


@task
def connect(i: int) -> int:
    from distributed import get_worker

    get_worker()  # raises outside a Dask worker
    token = os.environ["WAREHOUSE_TOKEN"]
    get_run_logger().info("worker %d connects with %s", os.getpid(), token)
    return len(token)


@flow(log_prints=True)
def warehouse(n: int = 3) -> int:
    lengths = connect.map(range(n)).result()
    print(f"flow process {os.getpid()} saw lengths {lengths}")
    return sum(lengths)
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_workers_of_a_cluster_started_elsewhere_get_the_credential(
    flows_server: FlowsServer, storage: Path
) -> None:
    """An agent on an existing Dask scheduler (``--dask-address``): its workers were started
    before the run, without its environment, yet the tasks read the credential; what they
    log of it arrives as ``***``, and the workers keep nothing of it after."""
    distributed = pytest.importorskip("distributed")
    from jupyter_flows.spec.python_flows import registration
    from tests.e2e.test_agents_e2e import Agents as CliAgents

    name = f"warehouse-{uuid.uuid4().hex[:6]}"
    added = cli(
        flows_server,
        "credential",
        "add",
        name,
        "--env",
        "WAREHOUSE_TOKEN",
        cwd=storage,
        stdin=SECRET,
    )
    assert added.returncode == 0, added.stderr
    flows_file = storage / "warehouse_flows.py"
    flows_file.write_text(DASK_FLOWS)
    queue = f"dask-{uuid.uuid4().hex[:8]}"
    api = FlowsClient(flows_server.url, flows_server.api_key)
    body = registration(flows_file, flow="warehouse", name=f"warehouse-{queue}")
    body["content"]["run_config"]["credentials"] = [name]
    version = api.register_flow(**body).version
    deployment = api.create_deployment(version.flow_id, "e2e", work_queue=queue).id

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        agents = CliAgents(flows_server, storage)
        try:
            agents.start(
                queue,
                f"agent-{queue}",
                "--infra",
                "dask",
                "--dask-address",
                cluster.scheduler_address,
                cli=True,
            )
            run = final(api, api.run_deployment(deployment, {"n": 3}).id)
        finally:
            agents.stop_all()
        with distributed.Client(cluster) as client:
            left = client.run(lambda: os.environ.get("WAREHOUSE_TOKEN"))
    assert run.state is not None and run.state.type == "COMPLETED", run.state
    assert run.infrastructure and cluster.scheduler_address in run.infrastructure
    messages = [line.message for line in api.iterate(api.get_flow_run_logs, run.id)]
    text = "\n".join(messages)
    assert f"saw lengths {[len(SECRET)] * 3}" in text, text  # the real value, on the workers
    flow_pid = int(text.split("flow process ")[1].split()[0])
    worker_lines = [m for m in messages if m.startswith("worker ") and "connects with" in m]
    assert len(worker_lines) == 3 and all(m.endswith("connects with ***") for m in worker_lines)
    assert flow_pid not in {int(m.split()[1]) for m in worker_lines}
    assert SECRET not in text
    assert set(left.values()) == {None}  # set for each task's duration only
