"""benchmarks/notebooks_engines.py runs and prints its table (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "notebooks_engines.py"


@pytest.mark.slow
def test_the_notebook_engines_benchmark_prints_its_table() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--repeat", "1", "--delay", "0.01", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any("kernel engine" in line and "x papermill" in line for line in lines)
    assert any("tasks engine (threads)" in line for line in lines)
    medians = json.loads(lines[-1])["median_s"]
    assert set(medians) == {"pm20", "kernel20", "pmbr", "tasksbr"}
    assert all(value > 0 for value in medians.values())
