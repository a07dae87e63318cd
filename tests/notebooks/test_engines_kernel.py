"""The kernel engine: papermill in one kernel, one task run per cell-task, reported as it goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from papermill.engines import papermill_engines

from jupyter_flows.engine.reporter import MemoryReporter, use_reporter
from jupyter_flows.notebooks import ParameterError
from jupyter_flows.notebooks.engines import CellError, run_notebook_flow
from jupyter_flows.notebooks.engines.kernel import PAPERMILL_ENGINE, FlowsPapermillEngine
from jupyter_flows.storage import BlobStore
from tests.notebooks.engines_helpers import copy_notebook, run

pytestmark = pytest.mark.slow


def test_a_run_reports_each_cell_with_its_output_and_stores_the_executed_notebook(
    tmp_path: Path,
) -> None:
    path = copy_notebook("report.ipynb", tmp_path)
    got = run(path, tmp_path, {"n": 4, "label": "weekly"}, engine="kernel")

    assert got.result.is_completed(), got.result.state.message
    assert got.flow_states() == ["Pending", "Running", "Completed"]
    assert got.records.flow_runs[0].parameters == {"n": 4, "label": "weekly"}
    for key in ("parameters", "numbers", "total", "summary"):
        assert got.states(key) == ["Pending", "Running", "Completed"]
    # The DAG's edges, with the names they carry, are the task runs' inputs.
    assert got.task("total").task_inputs == {"numbers": [got.task("numbers").id]}
    assert got.task("summary").task_inputs == {
        "label": [got.task("parameters").id],
        "total": [got.task("total").id],
    }
    # stdout, stderr (WARNING) and the text of a displayed value are the task's log lines.
    assert got.logs("numbers", 20) == ["4 numbers for weekly"]
    assert got.logs("total", 30) == ["total is 6"]
    assert got.logs("total", 20) == ["60"]
    assert got.logs("summary") == ["weekly: 6"]

    (artifact,) = got.result.artifacts
    assert artifact.type == "notebook" and got.records.artifacts == [artifact]
    executed = nbformat.reads(
        BlobStore(str(tmp_path / "blobs")).get(artifact.data["digest"]).decode(), as_version=4
    )
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'label = "weekly"' in injected[0].source
    assert executed.metadata.papermill["parameters"] == {"n": 4, "label": "weekly"}
    outputs = {c.id: c.outputs for c in executed.cells if c.cell_type == "code" and "id" in c}
    assert outputs["summary"][0]["text"] == "weekly: 6\n"


def test_a_failing_cell_fails_its_task_with_the_cell_index_and_traceback(tmp_path: Path) -> None:
    path = copy_notebook("failing_cell.ipynb", tmp_path)
    output = tmp_path / "out" / "failing.ipynb"
    got = run(path, tmp_path, engine="kernel", output_path=str(output))

    state = got.result.state
    assert state.is_failed()
    assert 'cell [3] "ratios = [total / v for v in values]' in state.message  # as shown
    assert "ZeroDivisionError" in state.message
    keys = list(got.result.task_runs)
    assert [got.result.task_runs[k].state.name for k in keys] == [
        "Completed",
        "Completed",
        "Failed",
        "NotReady",
    ]
    failed = got.final_state(keys[2])
    assert isinstance(failed.exception, CellError)
    assert failed.exception.cell_index == 3 and failed.exception.ename == "ZeroDivisionError"
    (error_line,) = got.logs(keys[2], 40)
    assert "ratios = [total / v for v in values]" in error_line  # the traceback, as text
    assert "\x1b[" not in error_line
    # papermill's output, error marker included, is still the run's artifact.
    executed = json.loads(output.read_text())
    assert executed["cells"][0]["metadata"]["tags"] == ["papermill-error-cell-tag"]
    assert got.result.artifacts[0].data["path"] == str(output)


def test_bad_parameters_are_refused_before_any_run_or_kernel(tmp_path: Path) -> None:
    path = copy_notebook("report.ipynb", tmp_path)
    with use_reporter(MemoryReporter()) as records:
        with pytest.raises(ParameterError, match="did you mean 'label'"):
            run_notebook_flow(None, path, {"lable": "x"}, engine="kernel")
        with pytest.raises(ParameterError, match="parameter 'n' expects an integer"):
            run_notebook_flow(None, path, {"n": "three"}, engine="kernel")
    assert records.flow_runs == [] and records.task_runs == []


def test_only_the_selected_cells_and_what_they_need_run(tmp_path: Path) -> None:
    path = copy_notebook("report.ipynb", tmp_path)
    got = run(path, tmp_path, engine="kernel", cells=[5])  # the "total" cell
    assert got.result.is_completed()
    assert sorted(got.result.task_runs) == ["numbers", "parameters", "total"]
    executed = got.result.output_notebook
    assert [c.id for c in executed.cells if c.cell_type == "code"] == [
        "params",
        "numbers",
        "total",
    ]


def test_the_engine_is_in_papermills_registry_and_runs_plain_papermill(tmp_path: Path) -> None:
    assert papermill_engines.get_engine(PAPERMILL_ENGINE) is FlowsPapermillEngine
    path = copy_notebook("report.ipynb", tmp_path)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(path), str(out), {"n": 2}, engine_name=PAPERMILL_ENGINE, progress_bar=False
    )
    executed = nbformat.read(out, as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "base: 1\n"


def test_the_kernels_own_output_is_not_the_flows_log(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """ipykernel warns on start ("Kernel is running over TCP without encryption") on its
    stderr, which was the run process's: an agent shipped it as INFO lines of the run."""
    import logging

    from jupyter_flows.engine.logs import configure_logging

    configure_logging()  # once per process: then this test may lower the level
    engine_logger = logging.getLogger("jupyter_flows")
    before = engine_logger.level
    engine_logger.setLevel(logging.DEBUG)
    try:
        path = copy_notebook("report.ipynb", tmp_path)
        got = run(path, tmp_path, {"n": 4, "label": "weekly"}, engine="kernel")
    finally:
        engine_logger.setLevel(before)
    assert got.result.is_completed(), got.result.state.message
    kernel_said = [line for line in got.records.logs if "kernel process wrote" in line.message]
    assert [line.level for line in kernel_said] == [logging.DEBUG]
    assert "IPKernelApp" in kernel_said[0].message  # it did say something
    # Not on this process's stderr (an agent ships that as the run's log), but as the line
    # logged at DEBUG, which the console prints at this test's level.
    err = capfd.readouterr().err
    assert err.count("[IPKernelApp]") == err.count("kernel process wrote:\n[IPKernelApp]") == 1


def test_the_executed_notebook_has_papermills_structure(tmp_path: Path) -> None:
    """Empty and comment-only code cells (a trailing one too) stay, as papermill keeps them."""
    cells = [
        nbformat.v4.new_markdown_cell("# Title", id="title"),
        nbformat.v4.new_code_cell("x = 1", id="one", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("", id="empty"),
        nbformat.v4.new_code_cell("# only a comment", id="comment"),
        nbformat.v4.new_code_cell("print(x)", id="two"),
        nbformat.v4.new_code_cell("", id="trailing"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python"}
    path = tmp_path / "shape.ipynb"
    nbformat.write(notebook, path)
    ours = tmp_path / "ours.ipynb"
    theirs = tmp_path / "theirs.ipynb"

    got = run(path, tmp_path, {"x": 2}, engine="kernel", output_path=str(ours))
    papermill.execute_notebook(
        str(path), str(theirs), parameters={"x": 2}, progress_bar=False, kernel_name="python3"
    )

    assert got.result.is_completed(), got.result.state.message

    def shape(nb: Any) -> list[tuple[str, str, list[str], Any, list[str]]]:
        return [
            (
                c.cell_type,
                c.id if "injected-parameters" not in c.metadata.get("tags", []) else "injected",
                c.metadata.get("tags", []),
                c.get("execution_count"),
                [o["output_type"] for o in c.get("outputs", [])],
            )
            for c in nb.cells
        ]

    assert shape(nbformat.read(ours, as_version=4)) == shape(nbformat.read(theirs, as_version=4))
    assert shape(nbformat.read(ours, as_version=4))[-1][:2] == ("code", "trailing")
