"""What both notebook engines share: the notebook document, one task run per cell-task,
errors that name the cell, and the record a rerun starts from.

A notebook run is one engine flow run (``engine.flow.run_flow``: the same states, transition
table and reporter as any ``@flow``) whose body is :meth:`NotebookEngine.execute`. Inside it,
each task of the :class:`~jupyter_flows.spec.flow_spec.FlowSpec` is one task run
(:class:`~jupyter_flows.engine.task_run.TaskCall`), created Pending before any cell runs so the
run's schematic is the whole DAG from the start, with its upstream edges taken from the
spec: ``task_inputs`` maps each name an edge carries to the upstream task run
(``wait_for`` for an ordering edge). The kernel engine moves those task runs from papermill's
per-cell hooks; the tasks engine hands them to the flow's task runner.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jupyter_flows.engine.context import FlowRunContext, current_tags
from jupyter_flows.engine.errors import PluginLoadError, UnknownPluginError
from jupyter_flows.engine.ids import new_id
from jupyter_flows.engine.logs import flow_logger, task_logger
from jupyter_flows.engine.registry import Registry
from jupyter_flows.engine.reporter import ArtifactRecord, TaskRunRecord, report_artifact
from jupyter_flows.engine.states import Pending, State
from jupyter_flows.engine.task import Task
from jupyter_flows.engine.task_run import TaskCall
from jupyter_flows.notebooks.reader import NotebookError

if TYPE_CHECKING:
    from jupyter_flows.engine.logs import RunLogger
    from jupyter_flows.spec.flow_spec import FlowSpec, TaskSpec

#: Format of the record a notebook run leaves in the result storage for its reruns.
RUN_RECORD_FORMAT = "jupyter-flows/notebook-run"


class NotebookRunError(ValueError):
    """A notebook run that cannot start: a bad engine, notebook, selection or rerun request."""


def cell_label(
    execution_count: int | None,
    source: str | None,
    cell_index: int | None = None,
    task: str | None = None,
) -> str:
    """A cell as a person sees it in the notebook: its execution count and first line,
    ``cell [3] "ratios = [total / v for v in values]"``."""
    line = first_line(source or "")
    if execution_count is not None and line:
        return f'cell [{execution_count}] "{line}"'
    if line:
        return f'the cell "{line}"'
    where = f"cell {cell_index}" if cell_index is not None else "a cell"
    return f"{where} ({task})" if task else where


def first_line(source: str, width: int = 60) -> str:
    """The first line with code or text on it, shortened to ``width`` characters."""
    line = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


class CellError(Exception):
    """A cell raised: the message names the cell as the notebook shows it (its execution
    count and first line) and the error.

    ``traceback`` is the text of the traceback as the notebook shows it; ``cell_index`` is
    the cell's position in the file (markdown cells counted).
    """

    def __init__(
        self,
        task: str,
        cell_index: int | None,
        ename: str,
        evalue: str,
        traceback: str = "",
        cell_id: str | None = None,
        execution_count: int | None = None,
        source: str | None = None,
    ) -> None:
        where = cell_label(execution_count, source, cell_index, task)
        super().__init__(f"{where} raised {ename}: {evalue}")
        self.task = task
        self.cell_index = cell_index
        self.cell_id = cell_id
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback
        self.execution_count = execution_count
        self.source = source

    def __reduce__(self) -> Any:  # pickles back from a Dask worker with its fields
        return (
            CellError,
            (
                self.task,
                self.cell_index,
                self.ename,
                self.evalue,
                self.traceback,
                self.cell_id,
                self.execution_count,
                self.source,
            ),
        )


class UnpicklableVariable(CellError):
    """A value a downstream task needs cannot be pickled (tasks engine)."""

    def __init__(
        self,
        task: str,
        cell_index: int | None,
        name: str,
        type_name: str,
        reason: str,
        targets: list[str],
        execution_count: int | None = None,
        source: str | None = None,
    ) -> None:
        needed = ", ".join(repr(t) for t in targets) or "a later task"
        super().__init__(
            task,
            cell_index,
            "UnpicklableVariable",
            reason,
            execution_count=execution_count,
            source=source,
        )
        where = cell_label(execution_count, source, cell_index, task)
        self.args = (
            f"{where}: variable {name!r} ({type_name}) cannot be pickled, so it cannot be "
            f"passed to {needed} ({reason}). Tag these cells flow:merge to run them as one "
            "task, or create the value in the cell that uses it.",
        )
        self.name = name
        self.type_name = type_name
        self.reason = reason
        self.targets = targets

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> Any:
        return (
            UnpicklableVariable,
            (
                self.task,
                self.cell_index,
                self.name,
                self.type_name,
                self.reason,
                self.targets,
                self.execution_count,
                self.source,
            ),
        )


# ------------------------------------------------------------------ the notebook document


@dataclass
class NotebookDocument:
    """The notebook a run executes: nbformat 4 with every cell's id as the spec knows it.

    Scripts (percent or plain) become a notebook of their cells and keep their ``text``
    (their cell titles name tasks). ``path`` is the file it came from, if any; its folder
    is where the cells run by default.
    """

    nb: Any
    path: str | None = None
    kind: str = "notebook"
    text: str | None = None

    @classmethod
    def load(cls, notebook: str | os.PathLike[str] | Mapping[str, Any]) -> NotebookDocument:
        from jupyter_flows.notebooks.reader import read_notebook_dict, read_path

        if isinstance(notebook, Mapping):
            data = copy.deepcopy(dict(notebook))
            read_notebook_dict(data, "notebook.ipynb")  # validates, NotebookError if not
            return cls(_with_ids(_node(data)))
        path = str(notebook)
        read_path(path)  # the same validation and messages as inspect
        if Path(path).suffix == ".ipynb":
            # Not nbformat.read: it gives cells without an id random ones, new at each read,
            # so the run would not find the cells its registration named.
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(_with_ids(_node(data)), path=path)
        return cls.from_script(Path(path).read_text(encoding="utf-8"), path)

    @classmethod
    def from_script(cls, text: str, path: str = "script.py") -> NotebookDocument:
        import nbformat

        from jupyter_flows.notebooks.reader import read_script_text

        source = read_script_text(text, path)
        cells = []
        for cell in source.cells:
            if cell.cell_type == "code":
                made = nbformat.v4.new_code_cell(cell.source, id=cell.id)
            elif cell.cell_type == "markdown":
                made = nbformat.v4.new_markdown_cell(cell.source, id=cell.id)
            else:
                made = nbformat.v4.new_raw_cell(cell.source, id=cell.id)
            if cell.tags:
                made.metadata["tags"] = list(cell.tags)
            cells.append(made)
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.metadata["language_info"] = {"name": "python"}
        return cls(nb, path=path, kind=source.kind, text=text)

    @property
    def cwd(self) -> str | None:
        """The notebook's folder, when it is a file that exists here."""
        if self.path and Path(self.path).exists():
            return str(Path(self.path).resolve().parent)
        return None

    def inspect(self, cells: Any, engine: str, name: str | None = None) -> FlowSpec:
        """Its FlowSpec on ``engine``, a registered notebook engine (UnknownNotebookEngine,
        listing the known ones, for another name)."""
        from jupyter_flows.notebooks import inspect_notebook, inspect_script

        if engine not in NOTEBOOK_ENGINES:
            NOTEBOOK_ENGINES.get(engine)  # raises, naming the engines there are
        if self.text is not None:
            shown = self.path or "script.py"
            return inspect_script(self.text, cells, path=shown, engine=engine, name=name)
        shown = self.path or "notebook.ipynb"
        return inspect_notebook(self.to_dict(), cells, path=shown, engine=engine, name=name)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.nb))  # type: ignore[no-any-return]

    def without_outputs(self) -> dict[str, Any]:
        """The notebook with outputs and execution counts cleared (what a rerun needs)."""
        data = self.to_dict()
        for cell in data.get("cells", []):
            if cell.get("cell_type") == "code":
                cell["outputs"] = []
                cell["execution_count"] = None
        return data

    def cell_ids(self) -> set[str]:
        return {cell.get("id") for cell in self.nb.cells}


def _node(data: dict[str, Any]) -> Any:
    """A validated notebook's JSON as an nbformat 4 node, its cells' ids as they are."""
    import nbformat

    nb = nbformat.from_dict(data)
    return nb if nb.nbformat == 4 else nbformat.convert(nb, 4)


def _with_ids(nb: Any) -> Any:
    """Give cells without an id the one the reader gives them (``cell-<index>``)."""
    if all(cell.get("id") for cell in nb.cells):
        return nb
    nb.nbformat_minor = max(int(nb.get("nbformat_minor", 0)), 5)
    for index, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell["id"] = f"cell-{index}"
    return nb


# ------------------------------------------------------------------ one notebook run


@dataclass
class ReusedTask:
    """A task a rerun does not run again: its outputs come from an earlier run."""

    flow_run_id: str
    result_key: str
    outputs: list[str]


@dataclass
class NotebookRun:
    """Everything an engine needs to execute one notebook run (its flow run is open)."""

    spec: FlowSpec
    document: NotebookDocument
    #: The parameters the caller gave (what papermill injects), and with defaults filled in.
    parameters: dict[str, Any]
    values: dict[str, Any]
    flow_ctx: FlowRunContext
    result_storage: str
    blob_storage: str | None = None
    kernel_name: str | None = None
    cwd: str | None = None
    output_path: str | None = None
    start_timeout: float = 60
    reuse: dict[str, ReusedTask] = field(default_factory=dict)
    #: Filled by the engine as it goes.
    calls: dict[str, TaskCall] = field(default_factory=dict)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    result_keys: dict[str, str] = field(default_factory=dict)
    output_notebook: Any = None

    @property
    def flow_run_id(self) -> str:
        return self.flow_ctx.flow_run.id

    @property
    def logger(self) -> RunLogger:
        run = self.flow_ctx.flow_run
        return flow_logger(run.id, f"Flow run {run.name!r}", self.flow_ctx.reporter)

    def task_logger(self, key: str) -> RunLogger:
        call = self.calls[key]
        return task_logger(
            self.flow_run_id, call.record.id, f"Task run {call.record.name!r}", call.reporter
        )

    def cell_index(self, task: TaskSpec, cell_id: str | None = None) -> int | None:
        if cell_id is not None and cell_id in task.cell_ids:
            return task.cell_indices[task.cell_ids.index(cell_id)]
        return task.cell_indices[0] if task.cell_indices else None

    def result_key(self, task_key: str) -> str:
        """Where a task's outputs are persisted for reruns (tasks engine)."""
        return result_key(self.flow_run_id, task_key)

    def new_task_run(
        self,
        task: TaskSpec,
        fn: Callable[..., Any] | None = None,
        *,
        kwargs: dict[str, Any] | None = None,
        wait_for: list[Any] | None = None,
    ) -> TaskCall:
        """The task run of one cell-task, reported and Pending, its edges from the spec."""
        engine_task: Task[..., Any] = Task(fn or _not_called, name=task.name)
        engine_task.task_key = task.key
        inputs: dict[str, list[str]] = {}
        for edge in self.spec.edges:
            if edge.target != task.key or edge.source not in self.calls:
                continue
            upstream = self.calls[edge.source].record.id
            # the values and state that flow; an ordering edge only waits
            for name in [*edge.names, *edge.state] or ["wait_for"]:
                ids = inputs.setdefault(name, [])
                if upstream not in ids:
                    ids.append(upstream)
        tags = sorted(current_tags())
        record = TaskRunRecord(
            id=new_id(),
            name=task.key,
            task_key=task.key,
            flow_run_id=self.flow_run_id,
            task_inputs=inputs,
            tags=tags,
        )
        reporter = self.flow_ctx.reporter
        reporter.task_run_created(record)
        call = TaskCall(
            engine_task,
            record,
            (),
            dict(kwargs or {}),
            list(wait_for or []),
            reporter,
            False,
            False,
            None,
        )
        call.set_state(Pending())
        self.calls[task.key] = call
        return call

    def add_artifact(self, type: str, data: dict[str, Any], **fields: Any) -> ArtifactRecord:
        record = ArtifactRecord(
            id=new_id(),
            flow_run_id=self.flow_run_id,
            type=type,  # type: ignore[arg-type]
            data=data,
            **fields,
        )
        report_artifact(self.flow_ctx.reporter, record)
        self.artifacts.append(record)
        return record


def _not_called() -> None:  # the kernel engine's task runs are moved by papermill's hooks
    raise RuntimeError("a kernel-engine task run is never called")


def result_key(flow_run_id: str, task_key: str) -> str:
    return f"notebook-run/{flow_run_id}/task/{task_key}"


def record_key(flow_run_id: str) -> str:
    return f"notebook-run/{flow_run_id}"


class NotebookEngine:
    """Base of the notebook engines: a subclass implements :meth:`execute`.

    ``execute`` runs inside the notebook run's flow run and must leave every task run of
    ``run.spec`` in a final state; a cell that fails raises (a :class:`CellError`), which
    fails the flow run.
    """

    name: ClassVar[str] = "base"
    #: Whether a rerun can start from the first failed cell, reusing earlier results.
    resumable: ClassVar[bool] = False

    def execute(self, run: NotebookRun) -> None:
        raise NotImplementedError


def executable_notebook(run: NotebookRun) -> Any:
    """The notebook as papermill would run it: every cell in file order, except the code
    cells the spec leaves out on purpose (tagged ``flow:skip``, outside a selection, or an
    earlier run's ``injected-parameters``). Empty and comment-only code cells stay, as in
    papermill's output, though they are no task."""
    nb = run.document.nb.copy()
    keep = {cell_id for task in run.spec.tasks for cell_id in task.cell_ids}
    selected = run.spec.selection is not None

    def kept(cell: Any) -> bool:
        if cell.cell_type != "code" or cell.get("id") in keep:
            return True
        tags = cell.get("metadata", {}).get("tags") or []
        if selected or "flow:skip" in tags or "injected-parameters" in tags:
            return False
        return _no_code(cell.get("source", ""))

    nb.cells = [cell for cell in run.document.nb.cells if kept(cell)]
    return nb


def _no_code(source: Any) -> bool:
    text = "".join(source) if isinstance(source, list) else str(source)
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())


def store_executed_notebook(run: NotebookRun, executed: bytes) -> None:
    """The executed notebook as a blob, at ``output_path`` when given, and the run's
    ``notebook`` artifact."""
    from jupyter_flows.storage import BlobStore

    store = BlobStore(run.blob_storage)
    digest = store.put(executed)
    stem = Path(run.document.path).stem if run.document.path else run.spec.name
    name = f"{stem}-{run.flow_ctx.flow_run.name}.ipynb"
    if run.output_path:
        Path(run.output_path).parent.mkdir(parents=True, exist_ok=True)
        Path(run.output_path).write_bytes(executed)
    data: dict[str, Any] = {
        "uri": f"{store.url.rstrip('/')}/sha256/{digest[:2]}/{digest}",
        "digest": digest,
        "storage_url": store.url,
        "name": name,
    }
    if run.output_path:
        data["path"] = str(run.output_path)
    run.add_artifact("notebook", data, key="output-notebook", description="The executed notebook")
    run.logger.info("Executed notebook stored as blob %s (%s)", digest[:12], name)


def final_states(run: NotebookRun) -> dict[str, State]:
    return {key: call.state for key, call in run.calls.items() if call.state is not None}


def check_spec(spec: FlowSpec, document: NotebookDocument) -> None:
    """Every cell the spec's tasks run is in the notebook."""
    if spec.engine == "flow":
        raise NotebookRunError(
            f"{spec.source.path} is a module of @flow functions: run its flow, not its cells"
        )
    ids = document.cell_ids()
    for task in spec.tasks:
        missing = [cell for cell in task.cell_ids if cell not in ids]
        if missing:
            raise NotebookRunError(
                f"task {task.key!r} runs cell {missing[0]!r}, which the notebook does not have"
            )


__all__ = [
    "CellError",
    "cell_label",
    "executable_notebook",
    "store_executed_notebook",
    "NotebookDocument",
    "NotebookEngine",
    "NotebookError",
    "NotebookRun",
    "NotebookRunError",
    "ReusedTask",
    "UnpicklableVariable",
    "check_spec",
    "final_states",
    "record_key",
    "result_key",
]


class UnknownNotebookEngine(UnknownPluginError, NotebookRunError):
    """No notebook engine has that name; the message lists the known ones."""


class NotebookEngineLoadError(PluginLoadError, NotebookRunError):
    """A notebook engine that cannot be imported, or is not a NotebookEngine."""


#: Notebook engines by name, imported when first asked for (papermill loads only when the
#: kernel engine runs); other packages add theirs through the
#: ``jupyter_flows.notebook_engines`` entry-point group.
NOTEBOOK_ENGINES: Registry[NotebookEngine] = Registry(
    "notebook engine",
    NotebookEngine,
    "jupyter_flows.notebook_engines",
    builtins={
        "kernel": "jupyter_flows.notebooks.engines.kernel:KernelEngine",
        "tasks": "jupyter_flows.notebooks.engines.tasks:TasksEngine",
    },
    unknown_error=UnknownNotebookEngine,
    load_error=NotebookEngineLoadError,
)
