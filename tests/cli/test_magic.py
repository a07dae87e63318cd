"""The %flow magic, in an in-process IPython shell (and once in a real kernel via nbclient)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from nbclient import NotebookClient

from jupyter_flows.client import FlowsClient
from jupyter_flows.engine.http_reporter import HttpReporter
from jupyter_flows.engine.reporter import MemoryReporter, set_default_reporter, use_reporter
from jupyter_flows.notebooks.engines import execute_registered
from tests.flows_server import FlowsServer

DATA = Path(__file__).resolve().parents[1] / "data" / "notebooks"
#: A bound on waiting for another thread (never an expectation of speed).
PATIENCE = 60.0


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_flows")
    return ip


@pytest.fixture
def notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A notebook this 'kernel' belongs to, as jupyter_server tells its kernels."""
    path = tmp_path / f"resume_{uuid.uuid4().hex[:8]}.ipynb"
    shutil.copyfile(DATA / "engines" / "resume.ipynb", path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    monkeypatch.setenv("JUPYTER_FLOWS_STORAGE_URL", str(tmp_path / "blobs"))
    monkeypatch.setenv("JUPYTER_FLOWS_RESULT_STORAGE", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)
    return path


@pytest.fixture
def server(flows_server: FlowsServer, monkeypatch: pytest.MonkeyPatch) -> FlowsServer:
    for key, value in flows_server.env().items():
        monkeypatch.setenv(key, value)
    return flows_server


@pytest.fixture
def records() -> Iterator[MemoryReporter]:
    recorded = MemoryReporter()
    set_default_reporter(recorded)
    yield recorded
    set_default_reporter(None)


def _saved(path: Path, ago: float) -> None:
    stamp = time.time() - ago
    os.utime(path, (stamp, stamp))


def test_register_finds_the_notebook_and_refuses_unsaved_changes(
    shell: InteractiveShell, notebook: Path, server: FlowsServer, capsys
) -> None:
    _saved(notebook, 60)
    shell.run_cell("unsaved = 'this cell is not in the file'")
    with pytest.raises(UsageError, match="has changes that are not saved"):
        shell.run_line_magic("flow", "register")
    _saved(notebook, -1)  # saved after that cell ran
    capsys.readouterr()
    shell.run_line_magic("flow", "register --engine tasks --queue magic --schedule 1h")
    out = capsys.readouterr().out
    assert f"Registered {notebook.stem!r} (new version 1, engine tasks): 5 tasks" in out
    assert "divide" in out and "parameters (divisor); load (values)" in out
    assert f"%flow run {notebook.stem}/default" in out
    with FlowsClient() as api:
        (group,) = list(api.iterate(api.list_flows, name=notebook.stem))
        (deployment,) = list(api.iterate(api.list_deployments, flow_id=group.id))
    assert deployment.work_queue == "magic" and deployment.schedule["interval_seconds"] == 3600


def test_register_stores_the_kernels_secrets_as_credentials_when_asked(
    shell: InteractiveShell,
    notebook: Path,
    server: FlowsServer,
    capsys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variable = f"MAGIC_{uuid.uuid4().hex[:6].upper()}_PASSWORD"
    name = variable.lower().replace("_", "-")
    monkeypatch.setenv(variable, "kernel-secret-value")
    _saved(notebook, -1)
    capsys.readouterr()
    shell.run_line_magic("flow", "register --engine tasks")
    out = capsys.readouterr().out
    assert variable in out and "--store-secrets" in out  # told, nothing stored
    with FlowsClient() as api:
        assert name not in {c.name for c in api.iterate(api.list_credentials)}
    shell.run_line_magic("flow", "register --engine tasks --store-secrets")
    out = capsys.readouterr().out
    assert f"Stored credential {name} (runs see it as ${variable})" in out
    assert "new version 2" in out and variable not in out.split("Registered")[1]
    with FlowsClient() as api:
        (group,) = list(api.iterate(api.list_flows, name=notebook.stem))
        version = api.list_flow_versions(group.id).items[0]
        assert name in api.get_resource_spec(version.id)["resource_spec"]["credentials"]
        assert "kernel-secret-value" not in json.dumps(version.model_dump(mode="json"))


def _agent_once(api: FlowsClient, deployment_id: str, server: FlowsServer) -> threading.Thread:
    """Runs the deployment's next run in this process, as an agent's executor would."""

    def work() -> None:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            runs = api.list_flow_runs(deployment_id=deployment_id).items
            if runs:
                run = runs[0]
                version = api.get_flow_version(run.flow_version_id)
                reporter = HttpReporter(server.url, api_key=server.api_key)
                with use_reporter(reporter):
                    execute_registered(
                        version.model_dump(),
                        run.parameters,
                        flow_run_id=run.id,
                        flow_name=run.flow_name,
                    )
                reporter.close()
                return
            time.sleep(0.1)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_run_wait_runs_and_logs(
    shell: InteractiveShell, notebook: Path, server: FlowsServer, capsys
) -> None:
    _saved(notebook, -1)
    shell.run_line_magic("flow", "register --engine tasks")
    name = notebook.stem
    with FlowsClient() as api:
        (group,) = list(api.iterate(api.list_flows, name=name))
        (deployment,) = list(api.iterate(api.list_deployments, flow_id=group.id))
        worker = _agent_once(FlowsClient(), deployment.id, server)
        capsys.readouterr()
        shell.run_line_magic("flow", f"run {name} -p divisor=2 --wait --timeout {PATIENCE}")
        worker.join(PATIENCE)
        out = capsys.readouterr().out
        assert f"of {name}: Scheduled" in out
        assert "ended Completed" in out
        assert f"Flow run {run_name(out)}: Completed" in out  # the status line
        assert all(c.isascii() or c in "…" for c in out), "a glyph some fonts lack"
        (run,) = api.list_flow_runs(flow_id=group.id).items
        assert run.trigger == "magic"  # the history's Trigger column

    shell.run_line_magic("flow", f"runs {name}")
    listed = capsys.readouterr().out
    assert run.name in listed and "Completed" in listed
    shell.run_line_magic("flow", f"logs {run.id}")
    logs = capsys.readouterr().out
    assert "report: 3 ratios, sum 6.0" in logs
    assert f"Beginning flow run {run.name!r}" in logs  # one run, one name: the API's
    shell.run_line_magic("flow", f"logs {run.id} --level critical")
    total = len(logs.strip().splitlines())
    assert capsys.readouterr().out == f"No log lines at critical or above ({total} lines in all).\n"


def run_name(out: str) -> str:
    """The run's name in ``Flow run NAME (ID) of FLOW: STATE``."""
    return out.split("Flow run ", 1)[1].split(" ", 1)[0]


def test_a_cell_runs_as_a_task_with_its_states_recorded(
    shell: InteractiveShell, notebook: Path, records: MemoryReporter, capsys
) -> None:
    result = shell.run_cell("%%flow task compute\nprint('computing')\nanswer = 41 + 1\nanswer")
    assert result.success and result.result == 42
    assert shell.user_ns["answer"] == 42
    assert "computing" in capsys.readouterr().out  # still printed in the notebook
    (flow_run,) = records.flow_runs
    assert flow_run.flow_name == notebook.stem
    (task_run,) = records.task_runs
    assert task_run.name.startswith("compute") and task_run.task_key == "cell:compute"
    assert records.states_of(task_run.id) == ["Pending", "Running", "Completed"]
    assert records.states_of(flow_run.id) == ["Pending", "Running", "Completed"]
    assert "computing" in [line.message for line in records.logs]

    with pytest.raises(UsageError, match="task 'broken' ended Failed: ZeroDivisionError"):
        shell.run_cell_magic("flow", "task broken", "1 / 0")


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("", "needs a command"),
        ("fly away", "unknown command 'fly'"),
        ("run", "the following arguments are required: name"),
        ("rerun", "the following arguments are required: run_id"),
        ("register --engine gpu", "no notebook engine 'gpu'; there are: kernel, tasks"),
        ("register --schedule sometimes", "cron expression"),
        ("task t", "runs the cell below it"),
        ("run 'unclosed", "No closing quotation"),
    ],
)
def test_usage_errors_are_one_line(shell: InteractiveShell, line: str, needle: str) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("flow", line)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_server_errors_are_one_line(
    shell: InteractiveShell, server: FlowsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("flow", "run no-such-flow")
    assert str(caught.value) == (
        "%flow run: no flow 'no-such-flow': register it first (%flow register, in its notebook)"
    )
    with pytest.raises(UsageError, match="%flow: no flow 'nope': register it first \\(%flow"):
        shell.run_line_magic("flow", "runs nope")
    monkeypatch.setenv("JUPYTER_FLOWS_API_URL", "http://127.0.0.1:9/api/flows/")
    with pytest.raises(UsageError, match="cannot reach the jupyter-flows server"):
        shell.run_line_magic("flow", "runs anything")


def test_register_without_a_notebook_says_so(
    shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(UsageError, match="cannot tell which notebook"):
        shell.run_line_magic("flow", "register")


@pytest.mark.slow
def test_the_magic_in_a_real_kernel(tmp_path: Path) -> None:
    cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_flows"),
        nbformat.v4.new_code_cell("%%flow task hello\nprint('hello from a task')\n6 * 7"),
        nbformat.v4.new_code_cell("%flow fly"),
        nbformat.v4.new_code_cell(
            "from jupyter_flows import flow, get_run_logger\n"
            "@flow\n"
            "def logs_twice():\n"
            "    get_run_logger().info('informed')\n"
            "    get_run_logger().warning('warned')\n"
            "logs_twice()"
        ),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = notebook.cells[1].outputs
    printed = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert "\nhello from a task\n" in printed, outputs  # a line of its own
    assert any(o.get("data", {}).get("text/plain") == "42" for o in outputs), outputs
    (error,) = notebook.cells[2].outputs  # IPython prints a UsageError as one line
    assert error["name"] == "stderr" and error["text"].startswith("UsageError: %flow: unknown")
    assert error["text"].count("\n") == 1  # a short message, not a traceback dump
    # INFO on stdout (JupyterLab paints stderr red, as errors), WARNING on stderr.
    streams = {"stdout": "", "stderr": ""}
    for output in notebook.cells[3].outputs:
        if output["output_type"] == "stream":
            streams[output["name"]] += output["text"]
    assert "INFO    | Flow run" in streams["stdout"] and "informed" in streams["stdout"]
    assert "warned" in streams["stderr"] and "informed" not in streams["stderr"]
    assert json.dumps(outputs)


def test_the_executed_notebook_is_a_link_that_opens_in_jupyterlab(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from jupyter_flows.cli import magic

    class Api:
        opened: list[str] = []

        def open_artifact(self, artifact_id: str) -> str:
            self.opened.append(artifact_id)
            return "jupyter-flows-runs/report/run-1a2b3c4d-1a2b3c4d.ipynb"

    run = SimpleNamespace(id="0190-run", name="run-1a2b3c4d")
    artifact = SimpleNamespace(id="a1", data={"name": "report-run-1a2b3c4d.ipynb"})
    shown: list[dict[str, str]] = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw: shown.append(data))
    monkeypatch.setattr(magic, "_session_path", lambda: "work/q3/report.ipynb")
    magic._show_executed_notebook(Api(), run, artifact)
    (data,) = shown
    assert data["text/markdown"] == (
        "Executed notebook: [jupyter-flows-runs/report/run-1a2b3c4d-1a2b3c4d.ipynb]"
        "(../../jupyter-flows-runs/report/run-1a2b3c4d-1a2b3c4d.ipynb)"
    )
    assert Api.opened == ["a1"]

    monkeypatch.setattr(magic, "_session_path", lambda: None)  # not a JupyterLab kernel
    magic._show_executed_notebook(Api(), run, artifact)
    assert capsys.readouterr().out == (
        "  Executed notebook: jupyter flows artifacts 0190-run --save report-run-1a2b3c4d.ipynb\n"
    )
    assert Api.opened == ["a1"]
