"""``run_notebook_flow``: one notebook run, as one engine flow run, on the engine chosen.

The run's flow is a :class:`~jupyter_flows.engine.flow.Flow` whose body is the engine's
``execute``: parameters, states, logs, timeouts and the reporter are the engine's own, so a
notebook run is recorded exactly like a ``@flow`` run (on the server when
``JUPYTER_FLOWS_API_URL`` is set, in a ``MemoryReporter`` under ``use_reporter``, …).
At the end the run leaves a record in the result storage (``notebook-run/<flow run id>``:
the spec, the notebook without outputs, the parameters, each task's final state and where
its outputs are) that :func:`~.rerun.rerun_notebook_flow` starts from.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_flows.engine.context import flow_run_context, tags
from jupyter_flows.engine.flow import Flow, run_flow
from jupyter_flows.engine.reporter import ArtifactRecord
from jupyter_flows.engine.runners import (
    SequentialTaskRunner,
    TaskRunner,
    ThreadPoolTaskRunner,
    task_runner_from_name,
)
from jupyter_flows.engine.states import State
from jupyter_flows.notebooks.engines.base import (
    RUN_RECORD_FORMAT,
    NotebookDocument,
    NotebookRun,
    NotebookRunError,
    ReusedTask,
    check_spec,
    record_key,
)
from jupyter_flows.notebooks.parameters import ParameterError, validate_parameters

if TYPE_CHECKING:
    from jupyter_flows.spec.flow_spec import FlowSpec

NotebookInput = str | os.PathLike[str] | Mapping[str, Any] | NotebookDocument


@dataclass
class TaskRunInfo:
    id: str
    name: str
    state: State


@dataclass
class NotebookRunResult:
    """What a notebook run ended with. ``state`` is the flow run's final state."""

    flow_run_id: str
    flow_run_name: str
    engine: str
    state: State
    parameters: dict[str, Any]
    task_runs: dict[str, TaskRunInfo] = field(default_factory=dict)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    #: The executed notebook (kernel engine), an nbformat node.
    output_notebook: Any = None

    def is_completed(self) -> bool:
        return self.state.is_completed()

    def raise_for_state(self) -> None:
        """Raise the run's error unless it completed."""
        if not self.state.is_completed():
            raise self.state.result(raise_on_failure=False)

    def task_states(self) -> dict[str, str]:
        return {key: info.state.name for key, info in self.task_runs.items()}


def check_parameters(spec: FlowSpec, parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run's parameters, defaults filled in; ParameterError before anything runs."""
    given = dict(parameters or {})
    if given and not spec.parameter_schema:
        first = sorted(given)[0]
        raise ParameterError(
            f"unknown parameter {first!r}: this notebook has no parameters cell (tag the "
            "cell that sets them 'parameters')",
            first,
        )
    return validate_parameters(spec.parameter_schema, given)


def run_notebook_flow(
    spec: FlowSpec | None,
    notebook: NotebookInput,
    parameters: Mapping[str, Any] | None = None,
    *,
    engine: str | None = None,
    task_runner: TaskRunner | str | None = None,
    cells: Iterable[int | str] | None = None,
    flow_name: str | None = None,
    flow_version: str | None = None,
    flow_run_id: str | None = None,
    flow_run_name: str | None = None,
    result_storage: str | None = None,
    blob_storage: str | None = None,
    kernel_name: str | None = None,
    cwd: str | None = None,
    output_path: str | None = None,
    timeout_seconds: float | None = None,
    start_timeout: float = 60,
    run_tags: Iterable[str] = (),
    reuse: Mapping[str, ReusedTask] | None = None,
) -> NotebookRunResult:
    """Run ``notebook`` (a path, a notebook dict, or a loaded document) as one flow run.

    ``spec``: its FlowSpec (None: converted here, with ``cells`` and ``engine``).
    ``engine``: ``kernel`` or ``tasks`` (default: the spec's). ``task_runner`` (tasks
    engine): a TaskRunner or its name (``sequential``, ``threads``, ``dask``); default the
    spec's. The run is reported to the current reporter (``use_reporter``, or the server
    when ``JUPYTER_FLOWS_API_URL`` is set). ``parameters`` are checked before anything
    starts (:class:`ParameterError`: no flow run, no kernel). ``flow_run_id``: run as this
    existing flow run (an agent's claimed run), named ``flow_run_name``. The result's
    ``state`` says how it ended; nothing is raised for a failed cell
    (``result.raise_for_state()`` does).
    """
    from jupyter_flows.engine.cache import default_result_storage
    from jupyter_flows.notebooks.engines import get_engine

    document = (
        notebook if isinstance(notebook, NotebookDocument) else NotebookDocument.load(notebook)
    )
    chosen = engine or (spec.engine if spec is not None else "kernel")
    engine_cls = get_engine(chosen)
    if spec is None:
        spec = document.inspect(list(cells) if cells is not None else None, chosen, flow_name)
    check_spec(spec, document)
    given = dict(parameters or {})
    values = check_parameters(spec, given)
    runner = _runner(chosen, task_runner, spec)
    storage = result_storage or default_result_storage()
    holder: dict[str, Any] = {}

    def body(**_: Any) -> None:
        flow_ctx = flow_run_context.get()
        assert flow_ctx is not None
        run = NotebookRun(
            spec=spec,
            document=document,
            parameters=given,
            values=values,
            flow_ctx=flow_ctx,
            result_storage=storage,
            blob_storage=blob_storage,
            kernel_name=kernel_name,
            cwd=cwd or document.cwd,
            output_path=output_path,
            start_timeout=start_timeout,
            reuse=dict(reuse or {}),
        )
        holder["run"] = run
        try:
            engine_cls().execute(run)
        finally:
            _write_record(run, chosen)

    body.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in values]
    )
    flow: Flow[..., None] = Flow(
        body,
        name=flow_name or spec.name,
        version=flow_version,
        task_runner=runner,
        validate_parameters=False,
        timeout_seconds=timeout_seconds,
    )
    with tags(*run_tags):
        state: State = run_flow(
            flow, (), values, True, flow_run_id=flow_run_id, flow_run_name=flow_run_name
        )
    run = holder.get("run")
    if run is None:  # the body never started (a timeout before it, say)
        return NotebookRunResult(flow_run_id or "", "", chosen, state, values)
    return NotebookRunResult(
        flow_run_id=run.flow_run_id,
        flow_run_name=run.flow_ctx.flow_run.name,
        engine=chosen,
        state=state,
        parameters=values,
        task_runs={
            key: TaskRunInfo(call.record.id, call.record.name, call.state)
            for key, call in run.calls.items()
            if call.state is not None
        },
        artifacts=list(run.artifacts),
        output_notebook=run.output_notebook,
    )


def _runner(engine: str, task_runner: TaskRunner | str | None, spec: FlowSpec) -> TaskRunner:
    if engine != "tasks":
        return SequentialTaskRunner()  # the kernel engine submits nothing
    if isinstance(task_runner, TaskRunner):
        return task_runner
    name = task_runner
    if name is None and isinstance(spec.task_runner, dict):
        name = spec.task_runner.get("runner")
    if name is None or name == "threads":
        return ThreadPoolTaskRunner()
    try:
        return task_runner_from_name(str(name))
    except ValueError as exc:
        raise NotebookRunError(str(exc)) from None


def _write_record(run: NotebookRun, engine: str) -> None:
    """What a rerun needs, in the result storage; a failure to write it is only logged."""
    from jupyter_flows.engine.cache import ResultStore

    tasks = {}
    for task in run.spec.tasks:
        call = run.calls.get(task.key)
        state = call.state if call is not None else None
        tasks[task.key] = {
            "state": state.type.value if state is not None else None,
            "state_name": state.name if state is not None else None,
            "code_hash": task.code_hash,
            "result_key": run.result_keys.get(task.key),
            "outputs": sorted({n for e in run.spec.edges if e.source == task.key for n in e.names}),
        }
    record = {
        "format": RUN_RECORD_FORMAT,
        "version": 1,
        "flow_run_id": run.flow_run_id,
        "flow_name": run.flow_ctx.flow.name,
        "engine": engine,
        "spec": run.spec.to_document(),
        "notebook": run.document.without_outputs(),
        "script": run.document.text,
        "path": run.document.path,
        "parameters": run.parameters,
        "tasks": tasks,
        "result_storage": run.result_storage,
    }
    try:
        ResultStore(run.result_storage).write(
            record_key(run.flow_run_id), record, expiration=None, owner="notebook run"
        )
    except Exception as exc:  # the run itself is fine; only its reruns are affected
        run.logger.warning("Could not record this run for reruns: %s", exc)
