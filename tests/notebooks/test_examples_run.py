"""The conversion examples run as they are: the notebook in a kernel, the script in Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_sales_report_notebook_runs_in_a_kernel() -> None:
    notebook = nbformat.read(EXAMPLES / "sales-report.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    ).execute()
    last = notebook.cells[-1].outputs[-1]["text"]
    report = json.loads(last)
    assert set(report) == {"orders", "totals", "top_products", "daily"}
    assert set(report["totals"]) == {"east", "north", "south", "west"}
    assert len(report["top_products"]) == 3


def test_the_word_stats_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "word_stats.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines()[0] == "11 words, mean length 3.73"
