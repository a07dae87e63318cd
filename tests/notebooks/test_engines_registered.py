"""Registered notebook flows: the stored notebook, and execute_registered (what agents call)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jupyter_flows.notebooks.engines import NotebookRunError, execute_registered
from jupyter_flows.spec.flow_spec import FlowKind, FlowSpec, parse_entrypoint
from jupyter_flows.spec.notebook_flows import notebook_registration
from jupyter_flows.storage import BlobStore
from tests.notebooks.engines_helpers import Recorded, copy_notebook

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _version(body: dict, version_id: str = "v1") -> dict:
    return {"id": version_id, "content": body["content"], "entrypoint": body["entrypoint"]}


def _kind(version: dict) -> FlowKind:
    return FlowSpec.from_content(version["content"], entrypoint=version["entrypoint"]).kind


def _execute(version, folder: Path, parameters=None, **options) -> Recorded:
    from jupyter_flows.engine.reporter import MemoryReporter, use_reporter

    options.setdefault("blob_storage", str(folder / "blobs"))
    options.setdefault("result_storage", str(folder / "results"))
    with use_reporter(MemoryReporter()) as records:
        result = execute_registered(version, parameters, **options)
    return Recorded(result, records)


def test_registering_stores_the_notebook_and_a_run_executes_it_from_the_blob(
    tmp_path: Path,
) -> None:
    path = copy_notebook("report.ipynb", tmp_path)
    spec, body = notebook_registration(path, engine="tasks", blob_storage=str(tmp_path / "blobs"))
    assert body["name"] == "report" and body["content"]["task_runner"]["engine"] == "tasks"
    located = parse_entrypoint(body["entrypoint"])
    assert located is not None and located[0] == str(path)
    stored = json.loads(BlobStore(str(tmp_path / "blobs")).get(located[1]))
    assert all(c.get("outputs", []) == [] for c in stored["cells"])
    version = _version(body)
    assert _kind(version) is FlowKind.NOTEBOOK

    path.unlink()  # the run needs only the blob
    got = _execute(version, tmp_path, {"n": 5}, flow_run_id="run-42", flow_name="weekly")
    assert got.result.is_completed(), got.result.state.message
    flow_run = got.records.flow_runs[0]
    assert (flow_run.id, flow_run.flow_name, flow_run.flow_version) == ("run-42", "weekly", "v1")
    assert got.logs("summary") == ["base: 10"]
    assert [t.name for t in got.records.task_runs] == [t.key for t in spec.tasks]


def test_a_saved_notebook_whose_cells_have_no_ids_runs_the_cells_it_registered(
    tmp_path: Path,
) -> None:
    """nbformat 4.5 without cell ids (as tools write them): nbformat.read gives random ids,
    new at each read, and the run could not find the cells registration named."""
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "n = 2"},
        {"cell_type": "code", "metadata": {}, "source": "print('twice', n * 2)"},
    ]
    for cell in cells:
        cell.update(execution_count=None, outputs=[])
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "no_ids.ipynb"
    path.write_text(json.dumps(notebook))

    spec, body = notebook_registration(path, engine="tasks", blob_storage=str(tmp_path / "blobs"))
    assert [task.cell_ids for task in spec.tasks] == [["cell-0"], ["cell-1"]]
    got = _execute(_version(body), tmp_path, {"n": 5})
    assert got.result.is_completed(), got.result.state.message
    assert got.logs(spec.tasks[-1].key) == ["twice 10"]


@pytest.mark.slow
def test_a_registered_script_runs_on_the_kernel_engine(tmp_path: Path) -> None:
    script = tmp_path / "word_stats.py"
    shutil.copyfile(EXAMPLES / "word_stats.py", script)
    spec, body = notebook_registration(
        script, engine="kernel", blob_storage=str(tmp_path / "blobs")
    )
    assert _kind(_version(body)) is FlowKind.SCRIPT
    got = _execute(_version(body), tmp_path, flow_run_id="0190-4d2a", flow_run_name="run-1a2b3c4d")
    assert got.result.is_completed(), got.result.state.message
    assert sorted(got.result.task_runs) == sorted(t.key for t in spec.tasks)
    assert got.result.artifacts[0].type == "notebook"
    # One run, one name: the API's, in the records, the log lines and the notebook's name.
    assert got.records.flow_runs[0].name == got.result.flow_run_name == "run-1a2b3c4d"
    assert got.result.artifacts[0].data["name"] == "word_stats-run-1a2b3c4d.ipynb"
    assert "Beginning flow run 'run-1a2b3c4d'" in [line.message for line in got.records.logs][0]


def test_a_notebook_whose_code_changed_is_refused(tmp_path: Path) -> None:
    path = copy_notebook("report.ipynb", tmp_path)
    _, body = notebook_registration(path, blob_storage=str(tmp_path / "blobs"))
    notebook = json.loads(path.read_text())
    notebook["cells"][3]["source"] = "numbers = [n]"
    with pytest.raises(NotebookRunError, match="the code of numbers changed"):
        _execute(_version(body), tmp_path, notebook=notebook)


def test_other_versions_are_refused(tmp_path: Path) -> None:
    module_flow = {"id": "v9", "content": {"task_runner": "threads"}, "entrypoint": "etl.py:etl"}
    assert _kind(module_flow) is FlowKind.MODULE
    with pytest.raises(NotebookRunError, match="not a notebook flow"):
        _execute(module_flow, tmp_path)
    no_blob = {"id": "v8", "content": {"task_runner": {"engine": "kernel"}}, "entrypoint": None}
    with pytest.raises(NotebookRunError, match="names no stored notebook"):
        _execute(no_blob, tmp_path)


def test_a_registered_run_can_rerun_an_earlier_one_from_its_failed_cell(tmp_path: Path) -> None:
    path = copy_notebook("resume.ipynb", tmp_path)
    _, body = notebook_registration(path, engine="tasks", blob_storage=str(tmp_path / "blobs"))
    version = _version(body)
    first = _execute(version, tmp_path, {"divisor": 0}, cwd=str(tmp_path))
    assert first.result.state.is_failed()
    again = _execute(
        version, tmp_path, {"divisor": 2}, cwd=str(tmp_path), rerun_of=first.result.flow_run_id
    )
    assert again.result.is_completed(), again.result.state.message
    assert again.result.task_states()["load"] == "Cached"
    assert again.records.flow_runs[0].flow_version == "v1"
    start = _execute(
        version,
        tmp_path,
        {"divisor": 3},
        cwd=str(tmp_path),
        rerun_of=first.result.flow_run_id,
        from_failed=False,
    )
    assert set(start.result.task_states().values()) == {"Completed"}


def test_the_agents_dask_infrastructure_runs_the_cells_on_dask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_flows.engine.run_env import RunEnv
    from jupyter_flows.engine.runners import DaskTaskRunner

    settings = {"cluster_kwargs": {"n_workers": 1, "processes": False}}
    monkeypatch.setenv("JUPYTER_FLOWS_DASK", json.dumps(settings))
    made = DaskTaskRunner.from_run_env(RunEnv.from_environ())
    assert isinstance(made, DaskTaskRunner) and made.cluster_kwargs == settings["cluster_kwargs"]
    path = copy_notebook("report.ipynb", tmp_path)
    _, body = notebook_registration(path, engine="tasks", blob_storage=str(tmp_path / "blobs"))
    got = _execute(_version(body), tmp_path, {"n": 2})
    assert got.result.is_completed(), got.result.state.message
    assert got.logs("summary") == ["base: 1"]
