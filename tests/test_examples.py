"""The examples that `make lab` opens run as they are: the script, and the notebook in a kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_example_script_runs(tmp_path: Path) -> None:
    env = {**os.environ, "JUPYTER_FLOWS_RESULT_STORAGE": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "etl_flow.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "done: 641.2" in done.stderr  # log_prints: the print went to the run's log


def test_the_getting_started_notebook_runs_in_a_kernel() -> None:
    notebook = nbformat.read(EXAMPLES / "getting-started.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    ).execute()
    outputs = {
        cell.source.splitlines()[0]: cell.outputs
        for cell in notebook.cells
        if cell.cell_type == "code"
    }
    assert outputs["squares(5)"][-1]["data"]["text/plain"] == "[0, 1, 4, 9, 16]"
    message = outputs['state = squares("five", return_state=True)'][-1]["data"]["text/plain"]
    assert "parameter 'n' expects int" in message
