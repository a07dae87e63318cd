"""Reruns: from the first failed cell reusing earlier results (tasks engine), or from the
start with changed parameters (both engines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_flows.engine.reporter import MemoryReporter, use_reporter
from jupyter_flows.notebooks import ParameterError
from jupyter_flows.notebooks.engines import NotebookRunError, rerun_notebook_flow
from tests.notebooks.engines_helpers import Recorded, copy_notebook, run


def _rerun(previous: str, folder: Path, **options) -> Recorded:
    options.setdefault("blob_storage", str(folder / "blobs"))
    with use_reporter(MemoryReporter()) as records:
        result = rerun_notebook_flow(previous, result_storage=str(folder / "results"), **options)
    return Recorded(result, records)


def test_a_rerun_starts_from_the_first_failed_cell(tmp_path: Path) -> None:
    path = copy_notebook("resume.ipynb", tmp_path)
    first = run(path, tmp_path, engine="tasks")
    assert first.result.state.is_failed()
    assert first.result.task_states() == {
        "parameters": "Completed",
        "load": "Completed",
        "count": "Completed",
        "divide": "Failed",
        "report": "NotReady",
    }

    again = _rerun(first.result.flow_run_id, tmp_path, parameters={"divisor": 2})
    assert again.result.is_completed(), again.result.state.message
    assert again.result.parameters == {"divisor": 2}
    assert again.result.task_states() == {
        "parameters": "Completed",  # new parameters: it runs again …
        "load": "Cached",  # … but nothing that does not read them
        "count": "Cached",
        "divide": "Completed",
        "report": "Completed",
    }
    assert again.logs("report") == ["3 ratios, sum 6.0"]
    assert (tmp_path / "load-runs.txt").read_text() == "load\n"  # load ran once
    assert again.final_state("load").message == (f"reused from flow run {first.result.flow_run_id}")
    assert "rerun" in again.records.flow_runs[0].tags
    assert again.result.flow_run_id != first.result.flow_run_id


def test_a_rerun_of_an_edited_notebook_runs_the_changed_cells(tmp_path: Path) -> None:
    path = copy_notebook("resume.ipynb", tmp_path)
    first = run(path, tmp_path, engine="tasks")
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        if cell.get("id") == "divide":
            cell["source"] = "ratios = [v / (divisor or 1) for v in values]"
    path.write_text(json.dumps(notebook))

    again = _rerun(first.result.flow_run_id, tmp_path, notebook=str(path))
    assert again.result.task_states() == {
        "parameters": "Cached",
        "load": "Cached",
        "count": "Cached",
        "divide": "Completed",
        "report": "Completed",
    }
    assert again.logs("report") == ["3 ratios, sum 12.0"]
    # A rerun of the rerun finds the first run's results through the second's record.
    third = _rerun(again.result.flow_run_id, tmp_path)
    assert set(third.result.task_states().values()) == {"Cached"}


@pytest.mark.slow
def test_the_kernel_engine_reruns_from_the_start_with_new_parameters(tmp_path: Path) -> None:
    path = copy_notebook("resume.ipynb", tmp_path)
    first = run(path, tmp_path, engine="kernel")
    assert first.result.state.is_failed()
    with pytest.raises(NotebookRunError, match="rerun it from the start"):
        _rerun(first.result.flow_run_id, tmp_path)

    again = _rerun(first.result.flow_run_id, tmp_path, from_failed=False, parameters={"divisor": 3})
    assert again.result.is_completed(), again.result.state.message
    assert set(again.result.task_states().values()) == {"Completed"}
    assert again.logs("report") == ["3 ratios, sum 4.0"]
    assert (tmp_path / "load-runs.txt").read_text() == "load\nload\n"


def test_a_full_rerun_of_the_tasks_engine_runs_everything(tmp_path: Path) -> None:
    path = copy_notebook("resume.ipynb", tmp_path)
    first = run(path, tmp_path, {"divisor": 1}, engine="tasks")
    assert first.result.is_completed()
    again = _rerun(first.result.flow_run_id, tmp_path, from_failed=False)
    assert again.result.parameters == {"divisor": 1}  # the earlier run's parameters
    assert set(again.result.task_states().values()) == {"Completed"}


def test_a_rerun_with_bad_parameters_or_of_an_unknown_run_is_refused(tmp_path: Path) -> None:
    path = copy_notebook("resume.ipynb", tmp_path)
    first = run(path, tmp_path, engine="tasks")
    with use_reporter(MemoryReporter()) as records:
        with pytest.raises(ParameterError, match="did you mean 'divisor'"):
            rerun_notebook_flow(
                first.result.flow_run_id,
                parameters={"divisr": 2},
                result_storage=str(tmp_path / "results"),
            )
        with pytest.raises(ParameterError, match="expects an integer"):
            rerun_notebook_flow(
                first.result.flow_run_id,
                parameters={"divisor": "two"},
                result_storage=str(tmp_path / "results"),
            )
        with pytest.raises(NotebookRunError, match="no notebook run 'nope'"):
            rerun_notebook_flow("nope", result_storage=str(tmp_path / "results"))
    assert records.flow_runs == []
