"""What the notebook-engine tests share: a notebook copied into a scratch folder, storage
for results and blobs inside it, and the records of a run."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_flows.engine.reporter import MemoryReporter, use_reporter
from jupyter_flows.notebooks.engines import run_notebook_flow

DATA = Path(__file__).resolve().parents[1] / "data" / "notebooks"


@dataclass
class Recorded:
    result: Any
    records: MemoryReporter

    def task(self, key: str) -> Any:
        return self.records.task_run_named(key)

    def states(self, key: str) -> list[str]:
        return self.records.states_of(self.task(key).id)

    def flow_states(self) -> list[str]:
        return self.records.states_of(self.records.flow_runs[0].id)

    def logs(self, key: str, level: int | None = None) -> list[str]:
        run_id = self.task(key).id
        return [
            line.message
            for line in self.records.logs
            if line.task_run_id == run_id and (level is None or line.level == level)
        ]

    def final_state(self, key: str) -> Any:
        run_id = self.task(key).id
        return [r.state for r in self.records.states if r.run_id == run_id][-1]


def copy_notebook(name: str, folder: Path) -> Path:
    source = DATA / "engines" / name if (DATA / "engines" / name).exists() else DATA / name
    target = folder / name
    shutil.copyfile(source, target)
    return target


def run(notebook: Any, folder: Path, parameters: dict[str, Any] | None = None, **options: Any):
    options.setdefault("result_storage", str(folder / "results"))
    options.setdefault("blob_storage", str(folder / "blobs"))
    with use_reporter(MemoryReporter()) as records:
        result = run_notebook_flow(options.pop("spec", None), notebook, parameters, **options)
    return Recorded(result, records)
