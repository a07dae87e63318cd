"""Run loggers: every record names its flow run and task run and goes to the run's reporter.

``get_run_logger()`` returns a logger bound to the current run. Records go two ways: to the
run's reporter (so the server and sidebar see them) and to the console (stderr), like
Prefect's; in a Jupyter kernel, INFO and below go to stdout (JupyterLab paints stderr red,
as if every line were an error) and WARNING and above to stderr.
``JUPYTER_FLOWS_LOGGING_LEVEL`` sets the level (default INFO) and
``JUPYTER_FLOWS_CONSOLE_LOGS=0`` silences the console.

``log_prints=True`` on a flow or task sends its ``print()`` calls to the run logger instead of
stdout. ``builtins.print`` is wrapped once, the first time such a run starts; the wrapper
checks the current run's setting on every call, so runs in other threads are unaffected.
"""

from __future__ import annotations

import builtins
import logging
import os
import sys
import threading
from datetime import datetime, timezone
from typing import Any

from jupyter_flows.engine.context import flow_run_context, get_run_context, task_run_context
from jupyter_flows.engine.reporter import LogRecord, Reporter
from jupyter_flows.engine.run_env import LOGGING_LEVEL, RunEnv

LOGGER_NAME = "jupyter_flows"
_logger = logging.getLogger(LOGGER_NAME)
flow_run_logger = logging.getLogger(f"{LOGGER_NAME}.flow_runs")
task_run_logger = logging.getLogger(f"{LOGGER_NAME}.task_runs")

_configured = False
_configure_lock = threading.Lock()


class RunLogHandler(logging.Handler):
    """Hands every record that carries a run's reporter to that reporter."""

    def emit(self, record: logging.LogRecord) -> None:
        reporter: Reporter | None = getattr(record, "reporter", None)
        if reporter is None:
            return
        try:
            reporter.log(
                LogRecord(
                    flow_run_id=getattr(record, "flow_run_id", None),
                    task_run_id=getattr(record, "task_run_id", None),
                    level=record.levelno,
                    timestamp=datetime.fromtimestamp(record.created, timezone.utc),
                    message=record.getMessage(),
                    name=record.name,
                )
            )
        except Exception:  # a broken reporter must not break the run
            self.handleError(record)


class _ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        label = getattr(record, "run_label", None)
        text = super().format(record)
        if label:
            head, _, tail = text.partition(" | ")
            level, _, message = tail.partition(" | ")
            return f"{head} | {level} | {label} - {message}"
        return text


def configure_logging() -> None:
    """Attach the run and console handlers once; called when the first run starts."""
    if not _configured:  # every run calls this: the lock only for the first
        _configure_once()


def _configure_once() -> None:
    global _configured
    with _configure_lock:
        if _configured:
            return
        level = os.environ.get(LOGGING_LEVEL, "INFO").upper()
        _logger.setLevel(level)
        _logger.propagate = False
        _logger.addHandler(RunLogHandler())
        if RunEnv.from_environ().console_logs:
            console = ConsoleHandler()
            console.setFormatter(_ConsoleFormatter())
            _logger.addHandler(console)
        _configured = True


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is *now* (Jupyter replaces it per cell); in a Jupyter
    kernel, records below WARNING to sys.stdout."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self._level = logging.WARNING  # of the record being written (emit holds the lock)

    def emit(self, record: logging.LogRecord) -> None:
        self._level = record.levelno
        super().emit(record)

    @property  # type: ignore[override,unused-ignore]
    def stream(self) -> Any:
        if self._level < logging.WARNING and _is_kernel_stream(sys.stdout):
            return sys.stdout
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _is_kernel_stream(stream: Any) -> bool:
    """A Jupyter kernel's output stream (ipykernel's OutStream, known without importing it),
    or a stream that wraps one as ``original`` (what ``%%flow task`` installs)."""
    for _ in range(3):
        if type(stream).__module__.startswith("ipykernel."):
            return True
        stream = getattr(stream, "original", None)
    return False


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger whose records carry the run's ids and reporter."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = kwargs.get("extra")
        kwargs["extra"] = {**dict(self.extra or {}), **extra} if extra else self.extra
        return msg, kwargs


def engine_line(logger: RunLogger, level: int, msg: str, *args: Any) -> None:
    """Log one of the engine's own lines (a run begins, a run ends) for ``logger``'s run.

    Like ``logger.log`` but without the caller lookup, which walks the stack on every
    record and would only ever name the engine: every flow run writes two such lines.
    """
    base = logger.logger
    if base.isEnabledFor(level):
        base.handle(
            base.makeRecord(base.name, level, __file__, 0, msg, args, None, None, logger.extra)
        )


def flow_logger(flow_run_id: str, label: str, reporter: Reporter) -> RunLogger:
    return RunLogger(
        flow_run_logger,
        {"flow_run_id": flow_run_id, "task_run_id": None, "run_label": label, "reporter": reporter},
    )


def task_logger(
    flow_run_id: str | None, task_run_id: str, label: str, reporter: Reporter
) -> RunLogger:
    return RunLogger(
        task_run_logger,
        {
            "flow_run_id": flow_run_id,
            "task_run_id": task_run_id,
            "run_label": label,
            "reporter": reporter,
        },
    )


def get_run_logger() -> RunLogger:
    """A logger bound to the running task, or else the running flow.

    Raises MissingContextError outside a run, as Prefect does.
    """
    ctx = get_run_context()
    if ctx is task_run_context.get():
        task_ctx = task_run_context.get()
        assert task_ctx is not None
        run = task_ctx.task_run
        return task_logger(run.flow_run_id, run.id, f"Task run {run.name!r}", task_ctx.reporter)
    flow_ctx = flow_run_context.get()
    assert flow_ctx is not None
    return flow_logger(
        flow_ctx.flow_run.id, f"Flow run {flow_ctx.flow_run.name!r}", flow_ctx.reporter
    )


_builtin_print = builtins.print
_print_patched = False


def _run_print(
    *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
) -> None:
    task_ctx = task_run_context.get()
    ctx: Any = task_ctx if task_ctx is not None else flow_run_context.get()
    if ctx is None or not ctx.log_prints or (file is not None and file is not sys.stdout):
        _builtin_print(*args, sep=sep, end=end, file=file, flush=flush)
        return
    get_run_logger().info((" " if sep is None else sep).join(str(a) for a in args))


def capture_prints() -> None:
    """Route print() of runs with log_prints=True to their logger (installed once)."""
    global _print_patched
    if not _print_patched:
        builtins.print = _run_print
        _print_patched = True
