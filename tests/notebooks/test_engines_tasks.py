"""The tasks engine: each cell-task on the task runner, values passed along the DAG's edges."""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import pytest

from jupyter_flows.engine.runners import DaskTaskRunner, SequentialTaskRunner
from jupyter_flows.engine.states import StateType
from jupyter_flows.notebooks.engines import (
    CellError,
    NotebookRunError,
    UnpicklableVariable,
    run_notebook_flow,
)
from jupyter_flows.notebooks.engines.base import result_key
from tests.notebooks.engines_helpers import copy_notebook, run


def _notebook(*sources: str, tags: dict[int, list[str]] | None = None) -> dict:
    cells = []
    for i, source in enumerate(sources):
        metadata = {"tags": (tags or {}).get(i, [])}
        cells.append(
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": metadata,
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
        )
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def test_cells_run_as_tasks_with_their_output_as_logs(tmp_path: Path) -> None:
    path = copy_notebook("report.ipynb", tmp_path)
    got = run(path, tmp_path, {"n": 4, "label": "weekly"}, engine="tasks")

    assert got.result.is_completed(), got.result.state.message
    for key in ("parameters", "numbers", "total", "summary"):
        assert got.states(key) == ["Pending", "Running", "Completed"]
    assert got.task("summary").task_inputs == {
        "label": [got.task("parameters").id],
        "total": [got.task("total").id],
    }
    assert got.logs("numbers", 20) == ["4 numbers for weekly"]
    assert got.logs("total", 30) == ["total is 6"]
    assert got.logs("total", 20) == ["60"]
    assert got.logs("summary") == ["weekly: 6"]


def test_the_executed_notebook_keeps_each_cells_outputs_as_papermill_would(
    tmp_path: Path,
) -> None:
    path = copy_notebook("report.ipynb", tmp_path)
    output = tmp_path / "out" / "report.ipynb"
    got = run(path, tmp_path, {"n": 4, "label": "weekly"}, engine="tasks", output_path=str(output))

    assert got.result.is_completed(), got.result.state.message
    (artifact,) = got.result.artifacts
    assert artifact.type == "notebook" and artifact.data["path"] == str(output)
    executed = nbformat.read(output, as_version=4)
    nbformat.validate(executed)
    code = [c for c in executed.cells if c.cell_type == "code"]
    injected = [c for c in code if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'label = "weekly"' in injected[0].source
    assert [c.execution_count for c in code] == [1, 2, 3, 4, 5]  # file order, as papermill
    outputs = {c.id: c.outputs for c in code}
    assert outputs["numbers"] == [
        {"output_type": "stream", "name": "stdout", "text": "4 numbers for weekly\n"}
    ]
    assert [o["output_type"] for o in outputs["total"]] == ["stream", "execute_result"]
    assert outputs["total"][0]["name"] == "stderr"
    assert outputs["total"][1]["data"]["text/plain"] == "60"
    assert outputs["total"][1]["execution_count"] == 4
    assert got.result.output_notebook.cells[-1].outputs[0]["text"] == "weekly: 6\n"


def test_a_failing_cell_fails_its_task_and_stops_what_needs_it(tmp_path: Path) -> None:
    path = copy_notebook("failing_cell.ipynb", tmp_path)
    got = run(path, tmp_path, engine="tasks")

    assert got.result.state.is_failed()
    assert got.flow_states() == ["Pending", "Running", "Failed"]
    keys = list(got.result.task_runs)
    assert got.result.task_states() == dict(
        zip(keys, ["Completed", "Completed", "Failed", "NotReady"], strict=True)
    )
    failed = got.final_state(keys[2])
    assert isinstance(failed.exception, CellError)
    assert failed.exception.cell_index == 3
    assert failed.message == (
        'CellError: cell [3] "ratios = [total / v for v in values]  # ZeroDivisionError w…" '
        "raised ZeroDivisionError: division by zero"
    )
    traceback_line = got.logs(keys[2], 40)[0]
    assert 'File "<cell 3>", line 1' in traceback_line
    assert "ratios = [total / v for v in values]" in traceback_line
    assert "jupyter_flows" not in traceback_line  # only the cell's frames


def test_an_unpicklable_variable_names_the_cell_and_suggests_merge(tmp_path: Path) -> None:
    path = copy_notebook("unpicklable.ipynb", tmp_path)
    got = run(path, tmp_path, engine="tasks")

    state = got.final_state("open")
    assert state.is_failed()
    error = state.exception
    assert isinstance(error, UnpicklableVariable)
    assert error.cell_index == 1 and error.name in ("lock", "log")
    assert "flow:merge" in str(error) and f"variable {error.name!r}" in str(error)
    assert "'uses'" in str(error)
    assert got.result.state.is_failed() and "flow:merge" in got.result.state.message


def test_independent_branches_run_in_parallel_on_threads(tmp_path: Path) -> None:
    path = copy_notebook("branches.ipynb", tmp_path)
    got = run(path, tmp_path, engine="tasks")
    assert got.result.is_completed()
    assert got.logs("join") == ["joined 6"]
    running, ended = [], []
    for key in ("first", "second", "third"):
        run_id = got.task(key).id
        for record in got.records.states:
            if record.run_id == run_id and record.state.type is StateType.RUNNING:
                running.append(record.state.timestamp)
            if record.run_id == run_id and record.state.type is StateType.COMPLETED:
                ended.append(record.state.timestamp)
    assert max(running) < min(ended)  # all three were running at once


def test_the_same_notebook_runs_on_a_dask_cluster(tmp_path: Path) -> None:
    path = copy_notebook("branches.ipynb", tmp_path)
    runner = DaskTaskRunner(
        cluster_kwargs={"n_workers": 1, "threads_per_worker": 3, "processes": False}
    )
    got = run(path, tmp_path, {"delay": 0.05}, engine="tasks", task_runner=runner)
    assert got.result.is_completed(), got.result.state.message
    assert got.logs("join") == ["joined 6"]
    assert set(got.result.task_states().values()) == {"Completed"}


def test_a_failure_and_an_unpicklable_value_on_dask(tmp_path: Path) -> None:
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 1, "processes": False})
    path = copy_notebook("unpicklable.ipynb", tmp_path)
    got = run(path, tmp_path, engine="tasks", task_runner=runner)
    assert isinstance(got.final_state("open").exception, UnpicklableVariable)
    assert got.final_state("uses").name == "NotReady"


def test_sequential_runner_by_name_and_functions_see_the_calling_cells_names(
    tmp_path: Path,
) -> None:
    notebook = _notebook(
        "def scaled(x):\n    return x * factor",
        "factor = 3",
        "result = scaled(2)\nprint(result)",
    )
    got = run(notebook, tmp_path, engine="tasks", task_runner="sequential")
    assert got.result.is_completed(), got.result.state.message
    keys = list(got.result.task_runs)
    assert got.logs(keys[2]) == ["6"]
    got = run(notebook, tmp_path, engine="tasks", task_runner=SequentialTaskRunner())
    assert got.result.is_completed()


def test_each_task_gets_a_copy_and_its_outputs_are_persisted(tmp_path: Path) -> None:
    from jupyter_flows.engine.cache import ResultStore

    notebook = _notebook(
        "items = [1]",
        "items.append(2)\nprint(items)",
        "print(items)",
    )
    got = run(notebook, tmp_path, engine="tasks")
    assert got.result.is_completed()
    keys = list(got.result.task_runs)
    assert got.logs(keys[1]) == ["[1, 2]"]
    assert got.logs(keys[2]) == ["[1, 2]"]  # the DAG orders it after the change
    found, value = ResultStore(str(tmp_path / "results")).read(
        result_key(got.result.flow_run_id, keys[0])
    )
    assert found and value["names"] == ["items"]


def test_magics_and_shell_lines_are_run_through_ipython(tmp_path: Path) -> None:
    notebook = _notebook(
        "words = !echo hello there\nn = len(words[0].split())",
        "print(n)",
        # A cell magic's body runs in IPython's namespace (docs/notebooks.md), and the name
        # it binds there ('printed') is the task's output.
        "%%capture printed\nprint('quiet')",
        "print(printed.stdout.strip())",
        tags={2: ["flow:after=c1"]},  # %%capture takes the process's output: not in parallel
    )
    got = run(notebook, tmp_path, engine="tasks")
    assert got.result.is_completed(), got.result.state.message
    keys = list(got.result.task_runs)
    assert got.logs(keys[1]) == ["2"]
    assert got.logs(keys[3]) == ["quiet"]


def test_an_unknown_engine_or_runner_is_refused(tmp_path: Path) -> None:
    path = copy_notebook("report.ipynb", tmp_path)
    with pytest.raises(NotebookRunError, match="unknown notebook engine 'papermill'"):
        run_notebook_flow(None, path, engine="papermill")
    with pytest.raises(NotebookRunError, match="unknown task runner 'gpu'"):
        run_notebook_flow(None, path, engine="tasks", task_runner="gpu")


def test_matplotlib_inline_works_and_the_plots_are_kept(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    notebook = _notebook(
        "%matplotlib inline\nimport matplotlib.pyplot as plt",
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nprint('drawn')",
        "plt.figure()\nplt.bar(['a', 'b'], [3, 1])\nplt.show()",
        "n = 1",
    )
    got = run(notebook, tmp_path, engine="tasks", task_runner="sequential")

    assert got.result.is_completed(), got.result.state.message
    cells = got.result.output_notebook.cells
    kinds = [[(o["output_type"], sorted(o.get("data", {}))) for o in c.outputs] for c in cells]
    assert kinds[0] == []
    assert kinds[1] == [("stream", []), ("display_data", ["image/png", "text/plain"])]
    assert kinds[2] == [("display_data", ["image/png", "text/plain"])]
    assert kinds[3] == []
    png = base64.b64decode(cells[1].outputs[1]["data"]["image/png"])
    assert png.startswith(b"\x89PNG")


def test_a_failed_cell_shows_its_error_and_later_cells_name_it_once(tmp_path: Path) -> None:
    notebook = _notebook("a = 1", "b = a / 0", "c = b + 1", "d = c + 1", "e = d + 1")
    got = run(notebook, tmp_path, engine="tasks")

    keys = list(got.result.task_runs)
    assert got.result.task_states() == dict(
        zip(keys, ["Completed", "Failed", "NotReady", "NotReady", "NotReady"], strict=True)
    )
    first = got.final_state(keys[2]).message
    assert first == got.final_state(keys[4]).message  # the same at any depth
    assert first.count("upstream task run") == 1 and repr(keys[1]) in first
    assert 'cell [2] "b = a / 0" raised ZeroDivisionError' in first
    error = got.result.output_notebook.cells[1].outputs[0]
    assert error["output_type"] == "error" and error["ename"] == "ZeroDivisionError"
    assert got.result.output_notebook.cells[2].execution_count is None  # it never ran


@pytest.mark.parametrize("runner", ["sequential", "threads"])
def test_objects_stay_shared_through_a_container_made_in_another_task(
    tmp_path: Path, runner: str
) -> None:
    notebook = _notebook(
        "a = {'v': 1}\nb = {'v': 2}",
        "frames = [a, b]",
        "for f in frames:\n    f['v'] += 10",
        "print(a['v'], b['v'], [f['v'] for f in frames])",
        "a['v'] = 0",
        "print(sum(f['v'] for f in frames))",
    )
    got = run(notebook, tmp_path, engine="tasks", task_runner=runner)

    assert got.result.is_completed(), got.result.state.message
    keys = list(got.result.task_runs)
    assert got.logs(keys[3], 20) == ["11 12 [11, 12]"]  # as in a kernel
    assert got.logs(keys[5], 20) == ["12"]
