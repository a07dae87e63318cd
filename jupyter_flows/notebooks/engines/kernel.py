"""The kernel engine: the whole notebook in one Jupyter kernel, through papermill.

Parameters are injected exactly as papermill injects them (an ``injected-parameters`` cell
after the cell tagged ``parameters``, only the parameters the run was given), the cells run
in file order and the first error stops the run, as ``papermill`` does. What this engine
adds is reporting: :class:`FlowsPapermillEngine`, registered in papermill's engine registry
as ``jupyter_flows``, builds papermill's execution manager with per-cell hooks
(``cell_start``, ``cell_complete``, ``cell_exception``) that move each cell-task's task run
Pending → Running → Completed / Failed, and its notebook client hands every output to the
run as it arrives: stdout and stderr lines and the text of displays become the task run's
log lines. The executed notebook (papermill's output, error marker included) is stored as a
blob and reported as the run's ``notebook`` artifact.

Only the cells of the spec's tasks run: cells tagged ``flow:skip`` and, for a selection,
the cells left out are removed before papermill sees the notebook (markdown stays).

The kernel process's own output (its start-up warnings, such as "Kernel is running over TCP
without encryption") is not the flow's: it goes to a file, logged at DEBUG when the run
ends, or at WARNING when the kernel died (what it said is then the clue).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.utils import merge_kwargs, remove_args

from jupyter_flows.engine.run_env import RunEnv, overlay_bootstrap
from jupyter_flows.engine.states import Completed, Failed, Running
from jupyter_flows.notebooks.engines.base import (
    CellError,
    NotebookEngine,
    NotebookRun,
    executable_notebook,
    store_executed_notebook,
)

#: The name of this project's engine in papermill's registry.
PAPERMILL_ENGINE = "jupyter_flows"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_INJECTED = "injected-parameters"


class CellObserver:
    """Turns papermill's per-cell callbacks into task-run states and log lines."""

    def __init__(self, run: NotebookRun, injected: bool) -> None:
        self.run = run
        self.task_of: dict[str, str] = {}  # cell id -> task key
        self.last_cell: dict[str, str] = {}  # task key -> the cell whose end ends it
        self.parameters_task: str | None = None
        for task in run.spec.tasks:
            for cell_id in task.cell_ids:
                self.task_of[cell_id] = task.key
            if task.cell_ids:
                self.last_cell[task.key] = task.cell_ids[-1]
            if task.kind == "parameters":
                self.parameters_task = task.key
                if injected:  # papermill's injected cell is the end of the parameters task
                    self.last_cell[task.key] = _INJECTED
        self.failure: CellError | None = None
        #: Where the kernel process writes its own stdout and stderr (a temporary file).
        self.kernel_output: Any = None
        self._partial: dict[tuple[str, str], str] = {}
        self._traceback: dict[str, str] = {}

    def _task(self, cell: Any) -> str | None:
        if _INJECTED in (cell.get("metadata", {}).get("tags") or []):
            return self.parameters_task
        return self.task_of.get(cell.get("id", ""))

    @staticmethod
    def _cell_key(cell: Any) -> str:
        if _INJECTED in (cell.get("metadata", {}).get("tags") or []):
            return _INJECTED
        return str(cell.get("id", ""))

    # -- hooks, in papermill's order -----------------------------------------------------
    def cell_start(self, cell: Any) -> None:
        key = self._task(cell)
        if key is None:
            return
        call = self.run.calls[key]
        if call.state is not None and call.state.is_pending():
            call.set_state(Running())

    def cell_output(self, cell: Any, output: Any) -> None:
        key = self._task(cell)
        if key is None:
            return
        kind = output.get("output_type")
        logger = self.run.task_logger(key)
        if kind == "stream":
            name = output.get("name", "stdout")
            text = self._partial.pop((key, name), "") + "".join(output.get("text", ""))
            *lines, rest = text.split("\n")
            if rest:
                self._partial[(key, name)] = rest
            for line in lines:  # a shell command's output through a pty ends lines in \r\n
                logger.log(30 if name == "stderr" else 20, "%s", line.rstrip("\r"))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            text = data.get("text/plain")
            if text is not None:
                logger.info("%s", "".join(text))
        elif kind == "error":
            self._traceback[key] = _ANSI.sub("", "\n".join(output.get("traceback", [])))

    def cell_exception(self, cell: Any, exception: Any) -> None:
        key = self._task(cell)
        if key is None:
            key = self.parameters_task or "?"
        task = self.run.spec.task(key) if key in self.run.calls else None
        self._flush(key)
        ename = getattr(exception, "ename", type(exception).__name__)
        evalue = getattr(exception, "evalue", str(exception))
        text = self._traceback.get(key) or _ANSI.sub("", str(getattr(exception, "traceback", "")))
        cell_id = self._cell_key(cell)
        index = self.run.cell_index(task, cell_id) if task is not None else None
        error = CellError(
            key,
            index,
            ename,
            evalue,
            text,
            cell_id=cell_id,
            execution_count=cell.get("execution_count"),
            source=_text(cell.get("source", "")),
        )
        self.failure = error
        if key in self.run.calls:
            logger = self.run.task_logger(key)
            logger.error("%s\n%s", error, text) if text else logger.error("%s", error)
            call = self.run.calls[key]
            if call.state is not None and call.state.is_pending():
                call.set_state(Running())
            call.set_state(Failed(f"CellError: {error}", exception=error))

    def cell_complete(self, cell: Any) -> None:
        key = self._task(cell)
        if key is None or self.failure is not None:
            return
        call = self.run.calls[key]
        if self.last_cell.get(key) == self._cell_key(cell) and call.state is not None:
            self._flush(key)
            if call.state.is_running():
                call.set_state(Completed())

    def _flush(self, key: str) -> None:
        for (task, name), rest in list(self._partial.items()):
            if task == key:
                del self._partial[(task, name)]
                self.run.task_logger(key).log(30 if name == "stderr" else 20, "%s", rest)


class _ObservedExecutionManager(NotebookExecutionManager):  # type: ignore[misc]
    """papermill's execution manager, with the run's observer told about every cell."""

    def __init__(self, nb: Any, observer: CellObserver, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self.observer = observer

    def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        super().cell_start(cell, cell_index, **kwargs)
        self.observer.cell_start(cell)

    def cell_exception(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        super().cell_exception(cell, cell_index, **kwargs)
        self.observer.cell_exception(cell, kwargs.get("exception"))

    def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        super().cell_complete(cell, cell_index, **kwargs)
        self.observer.cell_complete(cell)


class _ObservedClient(PapermillNotebookClient):  # type: ignore[misc]
    """papermill's notebook client, handing each output to the observer as it arrives."""

    def start_new_kernel(self, **kwargs: Any) -> None:  # papermill's (sync) way in
        super().start_new_kernel(**self._kernel_output(kwargs))

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        await super().async_start_new_kernel(**self._kernel_output(kwargs))

    def _kernel_output(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Start the kernel writing into the observer's file, not the run's own output."""
        output = self.nb_man.observer.kernel_output
        if output is not None:
            kwargs.setdefault("stdout", output)
            kwargs.setdefault("stderr", output)
        return kwargs

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        output = super().process_message(msg, cell, cell_index)
        if output is not None:
            self.nb_man.observer.cell_output(cell, output)
        return output


class FlowsPapermillEngine(NBClientEngine):  # type: ignore[misc]
    """papermill's nbclient engine with jupyter-flows' per-cell reporting.

    Called through papermill (``engine_name="jupyter_flows"``) with the engine keyword
    ``flows_observer``; without one it behaves as papermill's default engine.
    """

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = True,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        flows_observer: CellObserver | None = None,
        **kwargs: Any,
    ) -> Any:
        if flows_observer is None:
            return super().execute_notebook(
                nb,
                kernel_name,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
                **kwargs,
            )
        nb_man = _ObservedExecutionManager(
            nb,
            flows_observer,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: float = 60,
        execution_timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        if not isinstance(nb_man, _ObservedExecutionManager):
            return super().execute_managed_notebook(
                nb_man,
                kernel_name,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
                start_timeout=start_timeout,
                execution_timeout=execution_timeout,
                **kwargs,
            )
        # As NBClientEngine does, with the observing client.
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        return _ObservedClient(nb_man, **final_kwargs).execute()


papermill_engines.register(PAPERMILL_ENGINE, FlowsPapermillEngine)


class BorrowingKernelManager(AsyncKernelManager):  # type: ignore[misc]
    """Starts a Python kernel that borrows what its interpreter lacks (ipykernel) from the
    run process's overlay, as the run process itself does: a flow's rebuilt environment
    holds the flow's packages only."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd: list[str] = super().format_kernel_cmd(extra_arguments)
        if cmd[1:3] == ["-m", "ipykernel_launcher"]:
            return [cmd[0], "-c", overlay_bootstrap("ipykernel_launcher"), *cmd[3:]]
        return cmd


class KernelEngine(NotebookEngine):
    """Cells in file order in one kernel, papermill's semantics, one task run per task."""

    name = "kernel"
    resumable = False

    def execute(self, run: NotebookRun) -> None:
        import nbformat
        import papermill

        for task in run.spec.tasks:
            run.new_task_run(task)
        nb = executable_notebook(run)
        observer = CellObserver(run, injected=bool(run.parameters))
        kernel_name = run.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or None
        # In a flow's environment with jupyter-flows borrowed (agent/environment.py).
        borrowing = {"kernel_manager_class": BorrowingKernelManager}
        with (
            tempfile.TemporaryDirectory(prefix="jupyter-flows-") as tmp,
            tempfile.TemporaryFile() as kernel_output,
        ):
            observer.kernel_output = kernel_output
            # papermill takes paths (it formats them with the parameters): write the input.
            source = str(Path(tmp) / "input.ipynb")
            nbformat.write(nb, source)
            output = str(Path(tmp) / "output.ipynb")
            error: BaseException | None = None
            try:
                papermill.execute_notebook(
                    source,
                    output,
                    parameters=run.parameters or None,
                    engine_name=PAPERMILL_ENGINE,
                    kernel_name=kernel_name,
                    # The DAG was read as Python; a notebook written by a tool may not say so.
                    language=_language(nb),
                    progress_bar=False,
                    log_output=False,
                    start_timeout=run.start_timeout,
                    cwd=run.cwd,
                    flows_observer=observer,
                    **(borrowing if RunEnv.from_environ().overlay else {}),
                )
            except papermill.PapermillExecutionError as exc:
                error = observer.failure or CellError(
                    "?", None, exc.ename, exc.evalue, _ANSI.sub("", "\n".join(exc.traceback))
                )
            except BaseException as exc:
                error = exc
            executed = Path(output).read_bytes() if Path(output).exists() else None
            _log_kernel_output(
                run, kernel_output, died=error is not None and observer.failure is None
            )
        if executed is not None:
            run.output_notebook = nbformat.reads(executed.decode("utf-8"), as_version=4)
            store_executed_notebook(run, executed)
        _end_unstarted(run, error)
        if error is not None:
            raise error


def _log_kernel_output(run: NotebookRun, output: Any, died: bool) -> None:
    """What the kernel process wrote itself: DEBUG lines, or WARNING when it died."""
    output.seek(0)
    text = output.read()[-20_000:].decode("utf-8", "replace").strip()
    if text:
        level = 30 if died else 10
        run.logger.log(level, "The kernel process wrote:\n%s", _ANSI.sub("", text))


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _end_unstarted(run: NotebookRun, error: BaseException | None) -> None:
    """Task runs the kernel never finished: a cell before them failed (NotReady), or the
    run stopped in the middle of theirs (Failed)."""
    why = f"not run: {error}" if error is not None else "not run"
    for call in run.calls.values():
        state = call.state
        if state is None or state.is_final():
            continue
        if state.is_running():
            call.set_state(Completed() if error is None else Failed(why, exception=error))
        else:
            call.set_state(Failed(why, name="NotReady"))


def _language(nb: Any) -> str:
    """The notebook's language as papermill reads it, Python when its metadata is silent."""
    kernelspec = nb.metadata.get("kernelspec") or {}
    info = nb.metadata.get("language_info") or {}
    return str(kernelspec.get("language") or info.get("name") or "python")
