"""``jupyter flows register`` for notebooks and scripts: the version, the DAG, a deployment."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from jupyter_flows.client import FlowsClient
from jupyter_flows.spec.flow_spec import parse_entrypoint
from jupyter_flows.storage import BlobStore
from tests.cli.conftest import Invoke

DATA = Path(__file__).resolve().parents[1] / "data" / "notebooks"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy(source: Path, folder: Path) -> Path:
    name = f"{source.stem}_{uuid.uuid4().hex[:8]}{source.suffix}"  # a flow of its own
    target = folder / name
    shutil.copyfile(source, target)
    return target


def test_a_notebook_registers_with_its_dag_and_a_deployment(
    invoke: Invoke, api: FlowsClient, tmp_path: Path
) -> None:
    path = _copy(DATA / "engines" / "resume.ipynb", tmp_path)
    env = {"JUPYTER_FLOWS_STORAGE_URL": str(tmp_path / "blobs")}
    first = invoke(
        "register", str(path), "--engine", "tasks", "--schedule", "10m", "--queue", "nb", env=env
    )
    assert first.exit_code == 0, first.output
    assert f"'{path.stem}' registered as new version 1" in first.output
    assert "engine tasks" in first.output
    assert "divide" in first.output and "parameters (divisor); load (values)" in first.output
    assert "parameters [parameters]" in first.output
    assert "Deployment 'default'" in first.output and "queue nb" in first.output
    assert "every 600s" in first.output

    (group,) = [f for f in api.iterate(api.list_flows) if f.name == path.stem]
    version = api.get_flow_version(group.latest_version_id)
    assert version.content["task_runner"] == {"engine": "tasks", "runner": "threads"}
    located = parse_entrypoint(version.entrypoint)
    assert located is not None
    stored = json.loads(BlobStore(str(tmp_path / "blobs")).get(located[1]))
    assert [c["id"] for c in stored["cells"]][:2] == ["title", "params"]
    (deployment,) = list(api.iterate(api.list_deployments, flow_id=group.id))
    assert deployment.work_queue == "nb" and deployment.schedule["interval_seconds"] == 600

    again = invoke("register", str(path), "--engine", "tasks", env=env)
    assert "unchanged: still version 1" in again.output
    assert "queue nb" in again.output  # the deployment is kept as it was


def test_a_selection_and_a_script(invoke: Invoke, api: FlowsClient, tmp_path: Path) -> None:
    env = {"JUPYTER_FLOWS_STORAGE_URL": str(tmp_path / "blobs")}
    path = _copy(DATA / "engines" / "report.ipynb", tmp_path)
    done = invoke("register", str(path), "--cells", "3", "--name", path.stem, env=env)
    assert done.exit_code == 0, done.output
    assert "numbers" in done.output and "summary" not in done.output
    script = _copy(EXAMPLES / "word_stats.py", tmp_path)
    cron = invoke("register", str(script), "--schedule", "0 6 * * *", env=env)
    assert cron.exit_code == 0, cron.output
    assert "cron 0 6 * * * UTC" in cron.output and "engine kernel" in cron.output


def test_bad_notebooks_and_options_are_one_line_errors(invoke: Invoke, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    result = invoke("register", str(broken))
    assert result.exit_code == 1 and "not valid JSON" in result.output
    path = _copy(DATA / "engines" / "report.ipynb", tmp_path)
    bad = invoke("register", str(path), "--schedule", "sometimes")
    assert bad.exit_code == 2 and "cron expression" in bad.output
    module = tmp_path / "mod.py"
    module.write_text("from jupyter_flows import flow\n@flow\ndef a(): pass\n")
    wrong = invoke("register", str(module), "--engine", "tasks")
    assert wrong.exit_code == 2 and "--engine is for notebooks and scripts" in wrong.output
    assert "Traceback" not in result.output + bad.output + wrong.output
