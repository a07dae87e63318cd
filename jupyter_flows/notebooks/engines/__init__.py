"""The notebook engines: run a notebook's FlowSpec as one flow run, one task run per task.

- ``kernel`` (default): the notebook in one Jupyter kernel through papermill, the run's
  parameters injected as papermill injects them (:mod:`.kernel`).
- ``tasks``: each cell-task on the flow's task runner, values passed along the DAG's edges
  with cloudpickle (:mod:`.tasks`).

Engines are found by name in ``NOTEBOOK_ENGINES`` (the engine's generic registry), imported
on first use (papermill loads only when the kernel engine runs): :func:`register_engine` and
the ``jupyter_flows.notebook_engines`` entry-point group add others.

Entry points: :func:`run_notebook_flow`, :func:`rerun_notebook_flow`, and
:func:`execute_registered` (what an agent calls to run a registered notebook flow's run).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from jupyter_flows.notebooks.engines.base import (
    NOTEBOOK_ENGINES,
    CellError,
    NotebookDocument,
    NotebookEngine,
    NotebookEngineLoadError,
    NotebookRunError,
    UnknownNotebookEngine,
    UnpicklableVariable,
)

if TYPE_CHECKING:
    from jupyter_flows.notebooks.engines.registered import execute_registered
    from jupyter_flows.notebooks.engines.rerun import rerun_notebook_flow
    from jupyter_flows.notebooks.engines.run import NotebookRunResult, run_notebook_flow


def register_engine(name: str, engine: str | type[NotebookEngine]) -> None:
    """Make ``engine`` (a class, or ``"module:Class"``) available as ``name``."""
    NOTEBOOK_ENGINES.register(name, engine)


def engine_names() -> list[str]:
    return NOTEBOOK_ENGINES.names()


def get_engine(name: str) -> type[NotebookEngine]:
    """The engine class registered as ``name`` (a NotebookRunError if there is none)."""
    return NOTEBOOK_ENGINES.get(name)


def __getattr__(name: str) -> Any:  # the entry points, imported on first use
    lazy = {
        "run_notebook_flow": "run",
        "NotebookRunResult": "run",
        "rerun_notebook_flow": "rerun",
        "execute_registered": "registered",
    }
    if name in lazy:
        module = importlib.import_module(f"jupyter_flows.notebooks.engines.{lazy[name]}")
        return getattr(module, name)
    raise AttributeError(name)


__all__ = [
    "NOTEBOOK_ENGINES",
    "CellError",
    "NotebookDocument",
    "NotebookEngine",
    "NotebookEngineLoadError",
    "NotebookRunError",
    "NotebookRunResult",
    "UnknownNotebookEngine",
    "UnpicklableVariable",
    "engine_names",
    "execute_registered",
    "get_engine",
    "register_engine",
    "rerun_notebook_flow",
    "run_notebook_flow",
]
