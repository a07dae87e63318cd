"""Reruns of a notebook run: from the first failed cell, or from the start.

A run leaves a record in the result storage (see :mod:`.run`). ``rerun_notebook_flow``
reads it and starts a new flow run of the same notebook (or of ``notebook``, an edited
version of it):

- ``from_failed=True`` (tasks engine): a task whose earlier run completed, whose code is
  unchanged, whose upstream tasks are all reused and whose saved outputs hold every name its
  downstream tasks need is not run again: its task run ends ``Cached`` with the earlier
  outputs. So the run starts from the first failed cell; independent branches that had
  completed are not run again either. Changed parameters mean the parameters cell, and what
  depends on it, run again.
- ``from_failed=False`` (both engines): everything runs again, with the earlier parameters
  updated by ``parameters`` (papermill's parameterised rerun).

Parameters are checked before anything starts: an unknown name or a wrong type is refused
with :class:`~jupyter_flows.notebooks.parameters.ParameterError` and no kernel starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_flows.notebooks.engines.base import (
    RUN_RECORD_FORMAT,
    NotebookDocument,
    NotebookRunError,
    ReusedTask,
    record_key,
)
from jupyter_flows.notebooks.engines.run import (
    NotebookInput,
    NotebookRunResult,
    check_parameters,
    run_notebook_flow,
)


def read_run_record(flow_run_id: str, result_storage: str | None = None) -> dict[str, Any]:
    """The record a notebook run left for its reruns."""
    from jupyter_flows.engine.cache import ResultStore, default_result_storage
    from jupyter_flows.engine.run_env import RESULT_STORAGE

    storage = result_storage or default_result_storage()
    found, record = ResultStore(storage).read(record_key(flow_run_id))
    if not found or not isinstance(record, dict) or record.get("format") != RUN_RECORD_FORMAT:
        raise NotebookRunError(
            f"no notebook run {flow_run_id!r} is recorded in {storage}: a rerun needs the "
            f"result storage the earlier run wrote to ({RESULT_STORAGE})"
        )
    return record


def rerun_notebook_flow(
    previous_flow_run_id: str,
    *,
    from_failed: bool = True,
    parameters: Mapping[str, Any] | None = None,
    notebook: NotebookInput | None = None,
    result_storage: str | None = None,
    **options: Any,
) -> NotebookRunResult:
    """A new run of the notebook run ``previous_flow_run_id`` (see the module doc).

    ``options`` go to :func:`run_notebook_flow` (``task_runner``, ``blob_storage``,
    ``flow_run_id``, ``kernel_name``, …).
    """
    from jupyter_flows.spec.flow_spec import FlowSpec

    record = read_run_record(previous_flow_run_id, result_storage)
    engine = record["engine"]
    if from_failed and engine != "tasks":
        raise NotebookRunError(
            f"flow run {previous_flow_run_id} ran on the {engine} engine, whose kernel state "
            "is gone: rerun it from the start (from_failed=False), or register it with the "
            "tasks engine to resume from a failed cell"
        )
    old = FlowSpec.model_validate(record["spec"])
    if notebook is None:
        if record.get("script") is not None:
            document = NotebookDocument.from_script(
                record["script"], record.get("path") or "script.py"
            )
        else:
            document = NotebookDocument.load(record["notebook"])
            document.path = record.get("path")
        spec = old
    else:
        document = (
            notebook if isinstance(notebook, NotebookDocument) else NotebookDocument.load(notebook)
        )
        selected = old.selection.cells if old.selection is not None else None
        spec = document.inspect(selected, engine, old.name)
    given = {**record.get("parameters", {}), **dict(parameters or {})}
    check_parameters(spec, given)  # refused here, before any run starts
    for option in ("cells", "engine", "spec"):
        options.pop(option, None)
    reuse = plan_reuse(record, spec, given) if from_failed else {}
    return run_notebook_flow(
        spec,
        document,
        given,
        engine=engine,
        flow_name=options.pop("flow_name", None) or record.get("flow_name"),
        result_storage=result_storage or record.get("result_storage"),
        run_tags=[*options.pop("run_tags", ()), "rerun"],
        reuse=reuse,
        **options,
    )


def plan_reuse(
    record: dict[str, Any], spec: Any, parameters: Mapping[str, Any]
) -> dict[str, ReusedTask]:
    """The tasks a rerun from the first failure does not run again (module doc)."""
    earlier = record.get("tasks", {})
    same_parameters = dict(record.get("parameters", {})) == dict(parameters)
    needs: dict[str, set[str]] = {}
    for edge in spec.edges:
        needs.setdefault(edge.source, set()).update(edge.names)
    reused: dict[str, ReusedTask] = {}
    for task in spec.tasks:
        before = earlier.get(task.key)
        if not before or before.get("state") != "COMPLETED" or not before.get("result_key"):
            continue
        if before.get("code_hash") != task.code_hash:
            continue
        if task.kind == "parameters" and not same_parameters:
            continue
        if not all(source in reused for source in spec.upstream(task.key)):
            continue
        if not needs.get(task.key, set()) <= set(before.get("outputs") or []):
            continue
        reused[task.key] = ReusedTask(
            flow_run_id=record["flow_run_id"],
            result_key=before["result_key"],
            outputs=list(before.get("outputs") or []),
        )
    return reused
