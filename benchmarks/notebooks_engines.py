"""The notebook engines beside plain papermill, in the same process and run. Not a test.

    python benchmarks/notebooks_engines.py [--repeat 5] [--branches 4] [--delay 0.5] [--json]

1. A generated 20-cell notebook (a parameters cell and 19 small compute cells that print)
   through the kernel engine and through ``papermill.execute_notebook``, alternately, each
   with a fresh kernel. Goal: the kernel engine within 1.1x of papermill's wall time (what it
   adds is a task run per cell, its states and its log lines).
2. A notebook of ``--branches`` independent branches that each sleep ``--delay`` seconds,
   then a join, through papermill (cells one after another in one kernel) and through the
   tasks engine on threads. Goal: faster than papermill by about the branch parallelism.

Runs are reported to an in-memory reporter (``MemoryReporter``), so no server is needed and
the engines' own cost is what is measured. Medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

os.environ.setdefault("JUPYTER_FLOWS_CONSOLE_LOGS", "0")


def _save(cells: list, path: Path) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    return path


def twenty_cells(folder: Path) -> Path:
    cells = [
        new_markdown_cell("# Twenty cells"),
        new_code_cell("n = 20_000  # rows", metadata={"tags": ["parameters"]}),
        new_code_cell("import math\nimport statistics"),
    ]
    for i in range(18):
        source = (
            f"values_{i} = [math.sqrt(x + {i}) for x in range(n)]\n"
            f"mean_{i} = statistics.fmean(values_{i})\n"
            f'print(f"step {i}: {{mean_{i}:.3f}}")'
        )
        cells.append(new_code_cell(source))
    assert sum(c.cell_type == "code" for c in cells) == 20
    return _save(cells, folder / "twenty.ipynb")


def branches(folder: Path, count: int) -> Path:
    cells = [
        new_code_cell("delay = 0.5  # seconds per branch", metadata={"tags": ["parameters"]}),
        new_code_cell("import time"),
    ]
    for i in range(count):
        cells.append(new_code_cell(f"time.sleep(delay)\nbranch_{i} = {i}"))
    joined = " + ".join(f"branch_{i}" for i in range(count))
    cells.append(new_code_cell(f"total = {joined}\nprint(total)"))
    return _save(cells, folder / "branches.ipynb")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--branches", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    options = parser.parse_args()

    import papermill

    from jupyter_flows.engine.reporter import MemoryReporter, use_reporter
    from jupyter_flows.notebooks.engines import run_notebook_flow

    logging.getLogger("papermill").setLevel(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="bench-notebooks-"))
    storage = {"result_storage": str(folder / "results"), "blob_storage": str(folder / "blobs")}
    twenty = twenty_cells(folder)
    parallel = branches(folder, options.branches)
    delay = {"delay": options.delay}

    def papermill_run(path: Path, parameters: dict) -> None:
        papermill.execute_notebook(
            str(path), str(folder / "out.ipynb"), parameters, progress_bar=False
        )

    def engine_run(path: Path, parameters: dict, engine: str) -> None:
        with use_reporter(MemoryReporter()):
            result = run_notebook_flow(None, path, parameters, engine=engine, **storage)
        if not result.is_completed():
            raise SystemExit(f"{engine} engine run failed: {result.state.message}")

    # Warm up: imports, the kernel spec lookup, IPython's transformer.
    papermill_run(twenty, {})
    engine_run(twenty, {}, "kernel")
    engine_run(parallel, {"delay": 0.0}, "tasks")

    times: dict[str, list[float]] = {k: [] for k in ("pm20", "kernel20", "pmbr", "tasksbr")}
    for _ in range(options.repeat):  # alternate, so drift on a noisy machine hits both
        times["pm20"].append(timed(lambda: papermill_run(twenty, {})))
        times["kernel20"].append(timed(lambda: engine_run(twenty, {}, "kernel")))
        times["pmbr"].append(timed(lambda: papermill_run(parallel, delay)))
        times["tasksbr"].append(timed(lambda: engine_run(parallel, delay, "tasks")))
    median = {key: statistics.median(values) for key, values in times.items()}

    rows = [
        ("20-cell notebook", "papermill", median["pm20"], ""),
        (
            "20-cell notebook",
            "kernel engine",
            median["kernel20"],
            f"{median['kernel20'] / median['pm20']:.2f}x papermill (goal <= 1.10x)",
        ),
        (f"{options.branches} branches x {options.delay:g} s", "papermill", median["pmbr"], ""),
        (
            f"{options.branches} branches x {options.delay:g} s",
            "tasks engine (threads)",
            median["tasksbr"],
            f"{median['pmbr'] / median['tasksbr']:.2f}x faster than papermill "
            f"(branch parallelism {options.branches})",
        ),
    ]
    print(f"Notebook engines vs papermill {papermill.__version__}, median of {options.repeat}")
    print(f"{'workload':<24} {'runner':<24} {'wall s':>8}  note")
    for workload, runner, seconds, note in rows:
        print(f"{workload:<24} {runner:<24} {seconds:>8.3f}  {note}")
    if options.json:
        print(json.dumps({"median_s": median, "runs_s": times}, sort_keys=True))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
