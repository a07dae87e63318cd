"""The tasks engine: each cell-task is a real task on the flow's task runner.

A task's function (:class:`CellFunction`) runs the task's cells in a fresh namespace that
holds only the names its incoming edges carry, and returns the names its outgoing edges
need, pickled with cloudpickle in one blob (:mod:`.cell_values`, which also keeps objects
shared between tasks when a container of them travels). Values always travel that way, on
threads as on Dask, so a task sees the values as they were when its upstream task ended (a
later change in place by another task cannot reach it) and the same flow runs on any task
runner. Independent branches of the DAG run in parallel.

A value that cannot be pickled (an open file, a lock, a generator) fails its task with a
:class:`~.base.UnpicklableVariable` error naming the cell and the variable and suggesting
``flow:merge``. A cell's stdout and stderr are the task run's log lines (INFO and WARNING),
and so is the text of what it displays (its last expression, ``display(...)``).

What each cell shows is also kept as its outputs (:mod:`.cell_outputs`: streams, displays,
its result, its error, the figures it draws), and the run ends with an executed notebook as
papermill would leave it (an ``injected-parameters`` cell when parameters were given, every
cell numbered in file order), stored as a blob and reported as the run's ``notebook``
artifact, as the kernel engine does.

Each task's outputs are also written to the result storage (``notebook-run/<run>/task/<key>``)
so a rerun can start from the first failed cell without running the others again.

Known limits: the working directory is the process's (the run changes it for its duration
when the notebook has a folder); threads a cell starts print to the process's stdout; magics
that read the namespace (``%time expr``, ``%who``) see IPython's own namespace, not the
task's; pyplot's current figure is shared by tasks running at the same time (draw on the
figure a cell makes, ``fig, ax = plt.subplots()``, or run on the sequential runner).
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import linecache
import os
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jupyter_flows.engine.context import task_run_context
from jupyter_flows.engine.futures import TaskFuture
from jupyter_flows.engine.logs import task_logger
from jupyter_flows.engine.states import Cached
from jupyter_flows.notebooks.engines import cell_outputs
from jupyter_flows.notebooks.engines.base import (
    CellError,
    NotebookEngine,
    NotebookRun,
    UnpicklableVariable,
    executable_notebook,
    store_executed_notebook,
)
from jupyter_flows.notebooks.engines.cell_outputs import (
    OutputCollector,
    captured_output,
    current_capture,
    log_quietly,
)
from jupyter_flows.notebooks.engines.cell_values import Received, dump_values, load_values


@dataclass(frozen=True)
class CellSource:
    """One cell a task runs: its id, position in the file, execution count, code."""

    id: str
    index: int | None
    count: int | None
    source: str


class TasksEngine(NotebookEngine):
    """Cell-tasks on the flow's task runner, values passed along the DAG's edges."""

    name = "tasks"
    resumable = True

    def execute(self, run: NotebookRun) -> None:
        from jupyter_flows.notebooks.defuse import merge_sources

        spec = run.spec
        notebook = _output_notebook(run)
        counts = {c.get("id"): c.get("execution_count") for c in notebook.cells}
        sources = {c.get("id"): _text(c.get("source", "")) for c in run.document.nb.cells}
        outgoing: dict[str, dict[str, list[str]]] = {}  # task -> name -> targets
        for edge in spec.edges:
            for name in edge.names:
                outgoing.setdefault(edge.source, {}).setdefault(name, []).append(edge.target)
        futures: dict[str, TaskFuture[Any]] = {}
        with _working_directory(run.cwd):
            for task in spec.tasks:
                kwargs: dict[str, Any] = {}
                wait_for: list[Any] = []
                for edge in spec.edges:
                    if edge.target != task.key:
                        continue
                    upstream = futures[edge.source]
                    for name in edge.names:
                        kwargs[name] = upstream
                    if not edge.names:
                        wait_for.append(upstream)
                reused = run.reuse.get(task.key)
                if reused is not None:
                    futures[task.key] = self._reuse(run, task, reused, kwargs, wait_for)
                    continue
                cells = [
                    CellSource(cell_id, index, counts.get(cell_id), sources.get(cell_id, ""))
                    for cell_id, index in zip(task.cell_ids, task.cell_indices, strict=True)
                ]
                facts = merge_sources(c.source for c in cells)
                fn = CellFunction(
                    key=task.key,
                    cells=cells,
                    kind=task.kind,
                    outputs=outgoing.get(task.key, {}),
                    parameters=run.values if task.kind == "parameters" else None,
                    result_storage=run.result_storage,
                    containers={n: list(m) for n, m in facts.aliases},
                )
                call = run.new_task_run(task, fn, kwargs=kwargs, wait_for=wait_for)
                run.result_keys[task.key] = run.result_key(task.key)
                futures[task.key] = run.flow_ctx.task_runner.submit(call)
            for future in futures.values():
                future.wait()
        first_failure = None
        for task in spec.tasks:
            state = futures[task.key].state
            run.calls[task.key].state = state
            if state.is_failed() and state.name != "NotReady" and first_failure is None:
                first_failure = state
        self._notebook(run, notebook)
        if first_failure is not None:
            raise first_failure.result(raise_on_failure=False)

    @staticmethod
    def _reuse(
        run: NotebookRun,
        task: Any,
        reused: Any,
        kwargs: dict[str, Any],
        wait_for: list[Any],
    ) -> TaskFuture[Any]:
        from jupyter_flows.engine.cache import ResultStore

        found, value = ResultStore(run.result_storage).read(reused.result_key)
        if not found:  # the planner checked; a result removed since fails loudly
            raise CellError(
                task.key,
                task.cell_indices[0] if task.cell_indices else None,
                "MissingResult",
                f"the result of flow run {reused.flow_run_id} is no longer in {run.result_storage}",
            )
        call = run.new_task_run(task, kwargs=kwargs, wait_for=wait_for)
        run.result_keys[task.key] = reused.result_key
        state = call.set_state(
            Cached(data=value, message=f"reused from flow run {reused.flow_run_id}")
        )
        run.task_logger(task.key).info(
            "Not run again: reusing its result from flow run %s", reused.flow_run_id
        )
        return TaskFuture(
            call.record.id, call.record.name, lambda _t: state, lambda: True, lambda: state
        )

    @staticmethod
    def _notebook(run: NotebookRun, notebook: Any) -> None:
        """Fill the cells that ran with their outputs; store it as the run's notebook."""
        import nbformat
        from nbformat.v4 import nbjson

        from jupyter_flows.engine.cache import ResultStore

        store = ResultStore(run.result_storage)
        shown: dict[str, list[dict[str, Any]]] = {}
        for task in run.spec.tasks:
            key = run.result_keys.get(task.key)
            state = run.calls[task.key].state if task.key in run.calls else None
            if key is None or state is None or state.name == "NotReady":
                continue
            completed = state.is_completed()
            data = getattr(state, "data", None) if completed else None
            if isinstance(data, dict) and "outputs" in data:  # in memory (threads)
                shown.update(data["outputs"])
                continue
            found, value = store.read(key if completed else outputs_key(key))
            if found and isinstance(value, dict):
                shown.update(value.get("outputs", {}) if completed else value)
        ran = set(shown) | {c.get("id") for c in notebook.cells if _is_injected(c)}
        for cell in notebook.cells:
            if cell.get("cell_type") != "code":
                continue
            cell["outputs"] = [nbformat.from_dict(o) for o in shown.get(cell.get("id"), [])]  # type: ignore[no-untyped-call]
            if cell.get("id") not in ran and _has_code(cell):
                cell["execution_count"] = None
        run.output_notebook = notebook
        text: str = nbjson.writes(notebook)  # type: ignore[no-untyped-call]
        store_executed_notebook(run, text.encode("utf-8"))


def outputs_key(result_key: str) -> str:
    """Where a task's cell outputs are kept, beside its values."""
    return f"{result_key}/outputs"


def _output_notebook(run: NotebookRun) -> Any:
    """The notebook this run leaves, before outputs: as papermill prepares it (parameters
    injected after the ``parameters`` cell), every code cell numbered in file order."""
    import copy

    nb = copy.deepcopy(executable_notebook(run))
    for cell in nb.cells:  # as papermill loads a notebook
        cell.setdefault("metadata", {}).setdefault("tags", [])
    if run.parameters:
        from papermill.parameterize import parameterize_notebook  # type: ignore[import-untyped]

        nb.metadata.setdefault("papermill", {})
        nb = parameterize_notebook(nb, run.parameters, kernel_name="python3", language="python")
    count = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = []
        if _has_code(cell):
            count += 1
            cell["execution_count"] = count
        else:
            cell["execution_count"] = None
    return nb


def _has_code(cell: Any) -> bool:
    return bool(_text(cell.get("source", "")).strip())


def _is_injected(cell: Any) -> bool:
    return "injected-parameters" in (cell.get("metadata", {}).get("tags") or [])


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


class CellFunction:
    """The function of one cell-task (it pickles, so it runs on Dask workers too).

    Called with each name the task reads as a keyword, bound to the result of the upstream
    task that defines it; returns that task's own result (:mod:`.cell_values`).
    """

    def __init__(
        self,
        *,
        key: str,
        cells: list[CellSource],
        kind: str,
        outputs: dict[str, list[str]],
        parameters: dict[str, Any] | None,
        result_storage: str,
        containers: dict[str, list[str]] | None = None,
    ) -> None:
        self.key = key
        self.cells = cells
        self.kind = kind
        self.outputs = outputs
        self.parameters = parameters
        self.result_storage = result_storage
        self.containers = containers or {}
        self.__name__ = key
        self.__qualname__ = key
        self.__module__ = __name__

    @property
    def cell_index(self) -> int | None:
        return self.cells[0].index if self.cells else None

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        received = load_values(inputs)
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        namespace.update(received.values)
        _rebind(namespace)
        ctx = task_run_context.get()
        shown: dict[str, list[dict[str, Any]]] = {}
        try:
            with captured_output(_task_log()) as capture:
                namespace.setdefault("display", _display)
                for cell in self.cells:
                    collector = OutputCollector()
                    shown[cell.id] = collector.outputs
                    if capture is not None:
                        capture.collector = collector
                    self._run_cell(cell, namespace, collector)
        except BaseException:
            self._keep(ctx, outputs_key, shown)  # what the cells showed, their error last
            raise
        values = {name: namespace[name] for name in self.outputs if name in namespace}
        try:
            result = dump_values(
                values,
                key=self.key,
                namespace=namespace,
                received=received,
                containers=self.containers,
            )
        except Exception:
            self._unpicklable(values)
            raise
        result["outputs"] = shown
        self._keep(ctx, lambda key: key, result)
        return result

    # -- running the code ----------------------------------------------------------------
    def _run_cell(
        self, cell: CellSource, namespace: dict[str, Any], collector: OutputCollector
    ) -> None:
        before = cell_outputs.open_figures()
        try:
            self._run(cell, namespace, collector)
        except Exception as error:
            raise self._cell_error(error, cell, collector) from None
        finally:
            collector.figures(before)  # as the inline backend shows them after each cell

    def _run(self, cell: CellSource, namespace: dict[str, Any], collector: OutputCollector) -> None:
        source = _ipython_source(cell.source)
        magic = "get_ipython" in source
        if magic and "get_ipython" not in namespace:
            namespace["get_ipython"] = _get_ipython
        if magic:  # a magic binds names in IPython's namespace (%%capture out): take them
            shell_ns = _get_ipython().user_ns
            before = {name: shell_ns.get(name, _MISSING) for name in self.outputs}
        filename = f"<cell {cell.index if cell.index is not None else self.key}>"
        lines = source.splitlines(keepends=True)
        linecache.cache[filename] = (len(source), None, lines, filename)
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST | flags, dont_inherit=True)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        self._exec(compile(tree, filename, "exec", flags, dont_inherit=True), namespace)
        if self.kind == "parameters" and self.parameters:
            namespace.update(self.parameters)  # as papermill's injected cell would
        if last is not None:
            value = self._exec(compile(last, filename, "eval", flags, dont_inherit=True), namespace)
            if value is not None:
                _log_display(value)
                collector.display(value, execution_count=cell.count)
        if magic:
            for name, old in before.items():
                if name not in namespace and shell_ns.get(name, _MISSING) is not old:
                    namespace[name] = shell_ns[name]

    @staticmethod
    def _exec(code: types.CodeType, namespace: dict[str, Any]) -> Any:
        if code.co_flags & 0x0080:  # CO_COROUTINE: top-level await
            return asyncio.run(eval(code, namespace))  # noqa: S307 - the cell's own code
        return eval(code, namespace)  # noqa: S307 - the cell's own code

    def _cell_error(
        self, error: Exception, cell: CellSource, collector: OutputCollector
    ) -> CellError:
        frames = traceback.extract_tb(error.__traceback__)
        start = next((i for i, f in enumerate(frames) if f.filename.startswith("<cell ")), 0)
        shown = traceback.format_list(frames[start:])
        shown += traceback.format_exception_only(type(error), error)
        text = "Traceback (most recent call last):\n" + "".join(shown)
        collector.error(type(error).__name__, str(error), text.rstrip("\n").split("\n"))
        message = CellError(
            self.key,
            cell.index,
            type(error).__name__,
            str(error),
            text,
            cell_id=cell.id,
            execution_count=cell.count,
            source=cell.source,
        )
        logger = _task_log()
        if logger is not None:
            log_quietly(logger, 40, f"{message}\n{text.rstrip()}")
        return message

    def _unpicklable(self, values: dict[str, Any]) -> None:
        """The values did not pickle: fail with :class:`UnpicklableVariable` naming one."""
        import cloudpickle

        for name in sorted(values):
            try:
                cloudpickle.dumps(values[name])
            except Exception as error:
                cell = self._cell_binding(name)
                failure = UnpicklableVariable(
                    self.key,
                    cell.index if cell else self.cell_index,
                    name,
                    type(values[name]).__name__,
                    f"{type(error).__name__}: {error}",
                    sorted(self.outputs.get(name, [])),
                    execution_count=cell.count if cell else None,
                    source=cell.source if cell else None,
                )
                logger = _task_log()
                if logger is not None:
                    log_quietly(logger, 40, str(failure))
                raise failure from None

    def _cell_binding(self, name: str) -> CellSource | None:
        """The last of the task's cells that binds ``name``."""
        from jupyter_flows.notebooks.defuse import analyze

        found = [c for c in self.cells if name in analyze(c.source).defines]
        return found[-1] if found else (self.cells[-1] if self.cells else None)

    def _keep(self, ctx: Any, where: Any, value: Any) -> None:
        """Write ``value`` to the result storage under ``where(result key)`` (for reruns and
        the executed notebook), when running as a task run of a flow run."""
        if ctx is None or ctx.task_run.flow_run_id is None:
            return
        from jupyter_flows.engine.cache import ResultStore
        from jupyter_flows.notebooks.engines.base import result_key

        ResultStore(self.result_storage).write(
            where(result_key(ctx.task_run.flow_run_id, self.key)),
            value,
            expiration=None,
            owner=f"cell-task {self.key!r}",
        )


def _task_log() -> Any:
    ctx = task_run_context.get()
    if ctx is None:
        return None
    run = ctx.task_run
    return task_logger(run.flow_run_id, run.id, f"Task run {run.name!r}", ctx.reporter)


def _rebind(namespace: dict[str, Any]) -> None:
    """Functions and classes made by cells see this task's namespace as their globals.

    In a kernel a function reads the globals of the moment it is called; a function that
    came through pickle has its own copy of the globals it had when it was pickled. The DAG
    gives this task every name the function reads here, so point it at this namespace.
    """
    for name, value in list(namespace.items()):
        if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
            namespace[name] = _rebound(value, namespace)
        elif isinstance(value, type) and value.__module__ == "__main__":
            for attr, member in list(vars(value).items()):
                if isinstance(member, types.FunctionType):
                    setattr(value, attr, _rebound(member, namespace))


def _rebound(fn: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    made = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    made.__kwdefaults__ = fn.__kwdefaults__
    made.__dict__.update(fn.__dict__)
    made.__qualname__ = fn.__qualname__
    made.__doc__ = fn.__doc__
    made.__module__ = fn.__module__
    return made


def _ipython_source(source: str) -> str:
    """IPython's own transformation of magics and shell lines, when the cell has any."""
    if not any(mark in source for mark in ("%", "!", "?")):
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython ships with jupyter
        return source
    return str(TransformerManager().transform_cell(source))


_MISSING = object()


def _get_ipython() -> Any:
    """``get_ipython()`` in a task: the kernel's shell when there is one, else IPython's,
    with ``%matplotlib`` made to work without a display (:class:`cell_outputs.TaskShell`)."""
    from IPython import get_ipython
    from IPython.core.interactiveshell import InteractiveShell

    return cell_outputs.TaskShell(get_ipython() or InteractiveShell.instance())


def _display(*values: Any, **_: Any) -> None:
    """``display(...)`` in a task: each value is an output of the cell and a log line."""
    capture = current_capture()
    for value in values:
        _log_display(value)
        if capture is not None and capture.collector is not None:
            capture.collector.display(value)


def _log_display(value: Any) -> None:
    text = _plain_text(value)
    logger = _task_log()
    if logger is not None:
        log_quietly(logger, 20, text)
    else:
        print(text)


def _plain_text(value: Any) -> str:
    formatter = getattr(value, "_repr_pretty_", None)
    if formatter is not None:
        with contextlib.suppress(Exception):
            from IPython.lib.pretty import pretty

            return str(pretty(value))
    return repr(value)


@contextlib.contextmanager
def echo_output() -> Iterator[None]:
    """In a running task: its stdout and stderr are its log lines and still printed."""
    with captured_output(_task_log(), echo=True):
        yield


@contextlib.contextmanager
def _working_directory(path: str | None) -> Iterator[None]:
    if not path:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


__all__ = ["CellFunction", "CellSource", "Received", "TasksEngine", "echo_output", "outputs_key"]
