"""The benchmark harness works: workloads print sane JSON, the report renders.

No timing is asserted (the machines are small and noisy): only that each measurement is
there, is a number, and that the flows recorded what they should.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jupyter_flows.task_runners")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
WORKLOADS = BENCH / "workloads"


def run_workload(script: str, *args: str) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, str(WORKLOADS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert records, proc.stdout
    return records


def assert_number(value) -> None:
    assert isinstance(value, (int, float)) and math.isfinite(value), value


def load_report():
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("workload", ["direct", "submit"])
def test_task_workloads_record_every_state(workload):
    records = run_workload("jf_engine.py", workload, "--n", "5", "--n", "7", "--repeats", "1")
    assert [r["n"] for r in records] == [5, 7]
    for rec in records:
        assert rec["engine"] == "jupyter-flows" and rec["workload"] == workload
        for key in ("body_s", "wall_s", "baseline_s", "per_task_us", "per_task_wall_us"):
            assert_number(rec[key])
        assert rec["wall_s"] >= rec["body_s"] > 0
        # Pending, Running, Completed for each task, at least two states for the flow.
        assert rec["states"] >= 3 * rec["n"] + 2
        assert rec["logs"] >= 1


def test_async_workload_awaits_and_gathers():
    records = run_workload("jf_engine.py", "async", "--n", "5", "--repeats", "1")
    assert [(r["workload"], r["n"]) for r in records] == [("async-await", 5), ("async-gather", 5)]
    for rec in records:
        for key in ("body_s", "wall_s", "baseline_s", "per_task_us", "per_task_wall_us"):
            assert_number(rec[key])
        assert rec["states"] >= 3 * rec["n"] + 2


def test_empty_flow_workload():
    (rec,) = run_workload("jf_engine.py", "empty", "--runs", "3")
    assert rec["workload"] == "empty" and rec["runs"] == 3
    assert_number(rec["median_s"])
    assert rec["states"] >= 2 * 3


def test_plain_python_baseline():
    records = run_workload("baseline.py", "--n", "4")
    assert {(r["engine"], r["workload"]) for r in records} == {
        ("python", "direct"),
        ("python", "submit"),
        ("python", "async-await"),
        ("python", "async-gather"),
    }
    for rec in records:
        assert_number(rec["per_task_us"])


def test_dask_workload_runs_raw_and_flow_on_one_cluster():
    pytest.importorskip("distributed")
    records = run_workload("jf_engine.py", "dask", "--n", "3", "--repeats", "1", "--dask-threads")
    kinds = {(r["engine"], r["workload"]) for r in records}
    assert kinds == {
        ("distributed", "dask-raw-map"),
        ("distributed", "dask-raw-submit"),
        ("jupyter-flows", "dask"),
    }
    flow_rec = next(r for r in records if r["engine"] == "jupyter-flows")
    assert flow_rec["states"] >= 3 * 3 + 2
    assert_number(flow_rec["per_task_us"])


def test_report_renders_table_and_keeps_hand_written_text(tmp_path):
    report = load_report()
    records = [
        {"engine": "jupyter-flows", "workload": "import", "median_s": 0.1},
        {"engine": "prefect", "workload": "import", "median_s": 1.5},
        {"engine": "jupyter-flows", "workload": "empty", "runs": 300, "median_s": 2e-4},
        {"engine": "prefect", "workload": "empty", "runs": 5, "median_s": 1.2},
        {"engine": "python", "workload": "direct", "n": 10, "per_task_us": 0.05},
        {
            "engine": "jupyter-flows",
            "workload": "direct",
            "n": 10,
            "per_task_us": 80.0,
            "per_task_wall_us": 90.0,
        },
        {
            "engine": "prefect",
            "workload": "direct",
            "n": 10,
            "per_task_us": 6000.0,
            "per_task_wall_us": 9000.0,
        },
    ]
    res = report.Results(records, {"Dask": "distributed is not installed"})
    facts = {"date": "2026-01-01 00:00 UTC", "cores (nproc)": 2}
    section = report.render_section(res, [10], facts, "python benchmarks/run.py", "not run")
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert all(line.count("|") == 9 for line in table), table
    direct = next(line for line in table if line.startswith("| task called directly"))
    assert "80.0 µs" in direct and "6.00 ms" in direct and "75×" in direct
    assert direct.endswith("**no** |")  # 80 µs misses the 50 µs goal
    empty = next(line for line in table if line.startswith("| empty flow"))
    assert empty.endswith("yes |")
    assert "distributed is not installed" in section

    readme = tmp_path / "README.md"
    readme.write_text(f"# Intro\n\nkept\n\n{report.BEGIN}\nold table\n{report.END}\n\n## After\n")
    report.write_readme(readme, section)
    report.write_readme(readme, section)  # idempotent: one generated section, not two
    text = readme.read_text()
    assert text.startswith("# Intro\n\nkept\n") and text.rstrip().endswith("## After")
    assert "old table" not in text and text.count(report.BEGIN) == 1


@pytest.mark.slow
def test_run_py_quick_end_to_end(tmp_path):
    out = tmp_path / "results.json"
    readme_before = (BENCH / "README.md").read_text()
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--dask-threads", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "| workload | N | jupyter-flows |" in proc.stdout, proc.stderr[-3000:]
    assert (BENCH / "README.md").read_text() == readme_before  # --quick writes no README
    data = json.loads(out.read_text())
    assert not data["errors"], data["errors"]
    workloads = {(r["engine"], r["workload"]) for r in data["records"]}
    assert ("jupyter-flows", "direct") in workloads and ("jupyter-flows", "empty") in workloads
    assert proc.returncode == 0
