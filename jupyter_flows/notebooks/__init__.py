"""Notebooks, selected cells and scripts → a :class:`FlowSpec` (tasks, edges, parameters).

``inspect_path("etl.ipynb")`` reads and validates the file, turns each code cell into a
task, infers the edges from what each cell defines and reads, reads the parameters cell
into a JSON Schema and collects warnings; nothing runs and nothing is registered.
``inspect_notebook(model)`` does the same for a notebook already in memory (a Jupyter
contents model, or what the ``%flow`` magic holds). A ``.py`` file of ``@flow`` functions
is delegated to :mod:`jupyter_flows.spec.python_flows` (which imports it, as registering
does). See ``docs/notebooks.md`` for the rules and the JSON document.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jupyter_flows.notebooks.dag import CellRef, build_spec
from jupyter_flows.notebooks.defuse import DefUse, analyze
from jupyter_flows.notebooks.parameters import ParameterError, validate_parameters
from jupyter_flows.notebooks.reader import (
    Cell,
    NotebookError,
    Source,
    read_notebook_dict,
    read_path,
    read_script_text,
)
from jupyter_flows.spec.flow_spec import Engine, FlowSpec

__all__ = [
    "Cell",
    "CellRef",
    "DefUse",
    "FlowSpec",
    "NotebookError",
    "ParameterError",
    "Source",
    "analyze",
    "inspect_notebook",
    "inspect_path",
    "inspect_script",
    "inspect_source",
    "is_flow_module",
    "validate_parameters",
]


def inspect_path(
    path: str | Path,
    cells: Sequence[CellRef] | None = None,
    *,
    engine: Engine = "kernel",
    flow: str | None = None,
    name: str | None = None,
) -> FlowSpec:
    """What registering the notebook or script at ``path`` would make.

    ``cells``: only these cells (indices from 0, or cell ids) and every cell they need;
    ``engine``: ``kernel`` (cells in order in one kernel) or ``tasks``; ``flow``: which
    ``@flow`` of a module of flows. Raises :class:`NotebookError` for a malformed file.
    """
    shown = str(path)
    if Path(path).suffix == ".py" and is_flow_module(path):
        if cells is not None:
            raise NotebookError(shown, "a module of @flow functions has no cells to select")
        return _module_spec(shown, flow=flow, name=name)
    return inspect_source(read_path(path), cells, engine=engine, name=name)


def inspect_source(
    source: Source,
    cells: Sequence[CellRef] | None = None,
    *,
    engine: Engine = "kernel",
    name: str | None = None,
) -> FlowSpec:
    """The FlowSpec of cells already read (:mod:`reader`)."""
    return build_spec(source, cells, engine=engine, name=name)


def inspect_notebook(
    notebook: dict[str, Any],
    cells: Sequence[CellRef] | None = None,
    *,
    path: str = "notebook.ipynb",
    engine: Engine = "kernel",
    name: str | None = None,
) -> FlowSpec:
    """The FlowSpec of a notebook held in memory (parsed JSON or an nbformat node)."""
    return build_spec(read_notebook_dict(notebook, path), cells, engine=engine, name=name)


def inspect_script(
    text: str,
    cells: Sequence[CellRef] | None = None,
    *,
    path: str = "script.py",
    engine: Engine = "kernel",
    name: str | None = None,
) -> FlowSpec:
    """The FlowSpec of a percent or plain script held in memory."""
    return build_spec(read_script_text(text, path), cells, engine=engine, name=name)


# ------------------------------------------------------------------ modules of @flow functions


def is_flow_module(path: str | Path) -> bool:
    """A .py without ``# %%`` cells that defines a function decorated with ``flow``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False  # read_path reports it
    if read_script_text(text, str(path)).kind == "percent":
        return False
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if (isinstance(target, ast.Name) and target.id == "flow") or (
                    isinstance(target, ast.Attribute) and target.attr == "flow"
                ):
                    return True
    return False


def _module_spec(path: str, *, flow: str | None, name: str | None) -> FlowSpec:
    from jupyter_flows.spec.python_flows import FlowFileError, module_spec

    try:
        return module_spec(path, flow=flow, name=name)
    except FlowFileError as exc:
        message = str(exc)
        for prefix in (f"{path}: ", f"{path} "):
            message = message.removeprefix(prefix)
        raise NotebookError(path, message) from None
