"""The tasks engine: each cell-task is a real task on the flow's task runner.

A task's function (:class:`CellFunction`) runs the task's source in a fresh namespace that
holds only the names its incoming edges carry, and returns the names its outgoing edges
need, pickled with cloudpickle in one blob. Values always travel that way, on threads as on
Dask, so a task sees the values as they were when its upstream task ended (a later change
in place by another task cannot reach it) and the same flow runs on any task runner.
Independent branches of the DAG run in parallel.

A value that cannot be pickled (an open file, a lock, a generator) fails its task with a
:class:`~.base.UnpicklableVariable` error naming the cell and the variable and suggesting
``flow:merge``. A cell's stdout and stderr are the task run's log lines (INFO and WARNING),
and so is the text of what it displays (its last expression, ``display(...)``).

Each task's outputs are also written to the result storage (``notebook-run/<run>/task/<key>``)
so a rerun can start from the first failed cell without running the others again.

Known limits: the working directory is the process's (the run changes it for its duration
when the notebook has a folder); threads a cell starts print to the process's stdout; magics
that read the namespace (``%time expr``, ``%who``) see IPython's own namespace, not the
task's.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import contextvars
import io
import linecache
import os
import sys
import threading
import traceback
import types
from collections.abc import Iterator
from typing import Any

from jupyter_flows.engine.context import task_run_context
from jupyter_flows.engine.futures import TaskFuture
from jupyter_flows.engine.logs import task_logger
from jupyter_flows.engine.states import Cached
from jupyter_flows.notebooks.engines.base import (
    CellError,
    NotebookEngine,
    NotebookRun,
    UnpicklableVariable,
)


class TasksEngine(NotebookEngine):
    """Cell-tasks on the flow's task runner, values passed along the DAG's edges."""

    name = "tasks"
    resumable = True

    def execute(self, run: NotebookRun) -> None:
        spec = run.spec
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
                fn = CellFunction(
                    key=task.key,
                    cell_index=task.cell_indices[0] if task.cell_indices else None,
                    source=task.source,
                    kind=task.kind,
                    outputs=outgoing.get(task.key, {}),
                    parameters=run.values if task.kind == "parameters" else None,
                    result_storage=run.result_storage,
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


class CellFunction:
    """The function of one cell-task (it pickles, so it runs on Dask workers too).

    Called with each name the task reads as a keyword, bound to the output blob of the
    upstream task that defines it; returns ``{"blob": bytes, "names": [...]}``.
    """

    def __init__(
        self,
        *,
        key: str,
        cell_index: int | None,
        source: str,
        kind: str,
        outputs: dict[str, list[str]],
        parameters: dict[str, Any] | None,
        result_storage: str,
    ) -> None:
        self.key = key
        self.cell_index = cell_index
        self.source = source
        self.kind = kind
        self.outputs = outputs
        self.parameters = parameters
        self.result_storage = result_storage
        self.__name__ = key
        self.__qualname__ = key
        self.__module__ = __name__

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        import cloudpickle

        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        loaded: dict[int, dict[str, Any]] = {}
        for name, upstream in inputs.items():
            blob = upstream["blob"]
            if id(blob) not in loaded:
                loaded[id(blob)] = cloudpickle.loads(blob)
            namespace[name] = loaded[id(blob)][name]
        _rebind(namespace)
        ctx = task_run_context.get()
        with _captured_output(ctx):
            namespace.setdefault("display", _display)
            try:
                self._run(namespace)
            except Exception as error:
                raise self._cell_error(error) from None
        values = {name: namespace[name] for name in self.outputs if name in namespace}
        blob = self._pickle(values)
        result = {"blob": blob, "names": sorted(values)}
        if ctx is not None and ctx.task_run.flow_run_id is not None:
            from jupyter_flows.engine.cache import ResultStore
            from jupyter_flows.notebooks.engines.base import result_key

            ResultStore(self.result_storage).write(
                result_key(ctx.task_run.flow_run_id, self.key),
                result,
                expiration=None,
                owner=f"cell-task {self.key!r}",
            )
        return result

    # -- running the code ----------------------------------------------------------------
    def _run(self, namespace: dict[str, Any]) -> None:
        source = _ipython_source(self.source)
        magic = "get_ipython" in source
        if magic and "get_ipython" not in namespace:
            namespace["get_ipython"] = _get_ipython
        if magic:  # a magic binds names in IPython's namespace (%%capture out): take them
            shell_ns = _get_ipython().user_ns
            before = {name: shell_ns.get(name, _MISSING) for name in self.outputs}
        filename = f"<cell {self.cell_index if self.cell_index is not None else self.key}>"
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
                _display(value)
        if magic:
            for name, old in before.items():
                if name not in namespace and shell_ns.get(name, _MISSING) is not old:
                    namespace[name] = shell_ns[name]

    @staticmethod
    def _exec(code: types.CodeType, namespace: dict[str, Any]) -> Any:
        if code.co_flags & 0x0080:  # CO_COROUTINE: top-level await
            return asyncio.run(eval(code, namespace))  # noqa: S307 - the cell's own code
        return eval(code, namespace)  # noqa: S307 - the cell's own code

    def _cell_error(self, error: Exception) -> CellError:
        frames = traceback.extract_tb(error.__traceback__)
        start = next((i for i, f in enumerate(frames) if f.filename.startswith("<cell ")), 0)
        text = "".join(
            traceback.format_list(frames[start:])
            + traceback.format_exception_only(type(error), error)
        )
        text = "Traceback (most recent call last):\n" + text
        logger = _task_log()
        message = CellError(self.key, self.cell_index, type(error).__name__, str(error), text)
        if logger is not None:
            _log_quietly(logger, 40, f"{message}\n{text.rstrip()}")
        return message

    def _pickle(self, values: dict[str, Any]) -> bytes:
        import cloudpickle

        try:
            return bytes(cloudpickle.dumps(values))
        except Exception:
            pass
        for name in sorted(values):
            try:
                cloudpickle.dumps(values[name])
            except Exception as error:
                failure = UnpicklableVariable(
                    self.key,
                    self.cell_index,
                    name,
                    type(values[name]).__name__,
                    f"{type(error).__name__}: {error}",
                    sorted(self.outputs.get(name, [])),
                )
                logger = _task_log()
                if logger is not None:
                    _log_quietly(logger, 40, str(failure))
                raise failure from None
        return bytes(cloudpickle.dumps(values))  # each pickles alone: raise what it raises


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
    from IPython import get_ipython
    from IPython.core.interactiveshell import InteractiveShell

    return get_ipython() or InteractiveShell.instance()


def _display(*values: Any, **_: Any) -> None:
    """``display(...)`` in a task: the text of each value becomes a log line."""
    logger = _task_log()
    for value in values:
        text = _plain_text(value)
        if logger is not None:
            _log_quietly(logger, 20, text)
        else:
            sys.stdout.write(text + "\n")


def _plain_text(value: Any) -> str:
    formatter = getattr(value, "_repr_pretty_", None)
    if formatter is not None:
        with contextlib.suppress(Exception):
            from IPython.lib.pretty import pretty

            return str(pretty(value))
    return repr(value)


# ------------------------------------------------------------------ stdout and stderr


class _LineLog:
    """Collects a stream's text and logs each complete line."""

    def __init__(self, logger: Any, level: int) -> None:
        self.logger = logger
        self.level = level
        self.partial = ""

    def write(self, text: str) -> None:
        text = self.partial + text
        *lines, self.partial = text.split("\n")
        for line in lines:  # a shell command's output through a pty ends lines in \r\n
            _log_quietly(self.logger, self.level, line.rstrip("\r"))

    def close(self) -> None:
        if self.partial:
            _log_quietly(self.logger, self.level, self.partial)
            self.partial = ""


class _Capture:
    """Where a running cell's stdout and stderr go: its log, and the real stream if echo."""

    __slots__ = ("streams", "echo")

    def __init__(self, streams: dict[str, _LineLog], echo: bool) -> None:
        self.streams = streams
        self.echo = echo


_capture: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "jupyter_flows_cell_output", default=None
)


def _log_quietly(logger: Any, level: int, message: str) -> None:
    """Log with the capture off: the console handler's own writes go to the real stream."""
    token = _capture.set(None)
    try:
        logger.log(level, "%s", message)
    finally:
        _capture.reset(token)


class _Router(io.TextIOBase):
    """Stands in for sys.stdout / sys.stderr: a running cell's text goes to its log."""

    def __init__(self, name: str, original: Any) -> None:
        self.name = name
        self.original = original

    def write(self, text: str) -> int:
        target = _capture.get()
        if target is None:
            return int(self.original.write(text))
        if target.echo:  # first: a complete line is printed before the log line it makes
            self.original.write(text)
        target.streams[self.name].write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self.original.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        # Everything else is the real stream's (ipykernel's set_parent, buffer, …).
        return getattr(self.original, name)

    def fileno(self) -> int:
        return int(self.original.fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.original, "encoding", "utf-8"))


_install_lock = threading.Lock()


def _install_routers() -> None:
    with _install_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _Router):
                setattr(sys, name, _Router(name, current))


@contextlib.contextmanager
def echo_output() -> Iterator[None]:
    """In a running task: its stdout and stderr are its log lines and still printed."""
    with _captured_output(task_run_context.get(), echo=True):
        yield


@contextlib.contextmanager
def _captured_output(ctx: Any, echo: bool = False) -> Iterator[None]:
    if ctx is None:
        yield
        return
    _install_routers()
    run = ctx.task_run
    logger = task_logger(run.flow_run_id, run.id, f"Task run {run.name!r}", ctx.reporter)
    streams = {"stdout": _LineLog(logger, 20), "stderr": _LineLog(logger, 30)}
    token = _capture.set(_Capture(streams, echo))
    try:
        yield
    finally:
        _capture.reset(token)
        for stream in streams.values():
            stream.close()


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
