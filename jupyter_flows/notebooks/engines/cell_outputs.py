"""What a cell shows, kept as nbformat outputs and log lines: the tasks engine's side of
papermill's output.

While a cell-task runs, ``sys.stdout`` and ``sys.stderr`` route what it writes (in its
thread or context) to its task run's log (INFO and WARNING lines) and to its outputs.

A cell-task collects what its cells print (``stream``), display (``display_data``; its last
expression is the ``execute_result``), the error it raises (``error``) and the matplotlib
figures it leaves open (``display_data`` with ``image/png``, then closed, as IPython's
inline backend does after each cell). ``%matplotlib inline`` (or any ``%matplotlib``) in a
task selects the non-interactive Agg backend, so plots render with no display.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import io
import sys
import threading
from collections.abc import Iterator
from typing import Any

# Figures are pyplot's process-wide state: one task at a time looks at what is open.
_figures_lock = threading.Lock()


class OutputCollector:
    """The outputs of the cell running now, as nbformat 4 output dicts."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def display(self, value: Any, *, execution_count: int | None = None) -> None:
        """``display(value)``; with ``execution_count``, the cell's result (``Out[n]``)."""
        data, metadata = mime_bundle(value)
        if execution_count is not None:
            self.outputs.append(
                {
                    "output_type": "execute_result",
                    "execution_count": execution_count,
                    "data": data,
                    "metadata": metadata,
                }
            )
        else:
            self.outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self.outputs.append(
            {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback}
        )

    def figures(self, before: set[int]) -> None:
        """Show the figures opened since ``before`` (ids of figures open then), and close them."""
        for figure in new_figures(before):
            self.display(figure)


def mime_bundle(value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """What Jupyter would show for ``value``: ``text/plain`` and richer forms (HTML of a data
    frame, PNG of a figure or an ``Image``), JSON-ready (images base64-encoded)."""
    if _is_figure(value):
        return {"image/png": _figure_png(value), "text/plain": repr(value)}, {}
    data: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        data, metadata = _formatter().format(value)
    if "text/plain" not in data:
        data["text/plain"] = repr(value)
    for mime, content in list(data.items()):
        if isinstance(content, bytes):
            data[mime] = base64.b64encode(content).decode("ascii")
    return data, dict(metadata)


def open_figures() -> set[int]:
    """Ids of the pyplot figures open now (none if pyplot was never imported)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return set()
    with _figures_lock:
        return {id(pyplot.figure(n)) for n in pyplot.get_fignums()}


def new_figures(before: set[int]) -> list[Any]:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    made = []
    with _figures_lock:
        for number in pyplot.get_fignums():
            figure = pyplot.figure(number)
            if id(figure) not in before:
                made.append(figure)
        for figure in made:
            pyplot.close(figure)
    return made


def enable_matplotlib(line: str = "") -> None:
    """``%matplotlib [gui]`` in a task: the Agg backend (figures are kept as images)."""
    import importlib

    matplotlib = importlib.import_module("matplotlib")
    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("agg", force=True)


def _is_figure(value: Any) -> bool:
    module = sys.modules.get("matplotlib.figure")
    return module is not None and isinstance(value, module.Figure)


def _figure_png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


_formatter_instance: Any = None


def _formatter() -> Any:
    global _formatter_instance
    if _formatter_instance is None:
        from IPython.core.formatters import DisplayFormatter

        _formatter_instance = DisplayFormatter()
    return _formatter_instance


class TaskShell:
    """``get_ipython()`` in a task: IPython's shell, with ``%matplotlib`` that works headless.

    A plain ``InteractiveShell`` (what exists outside a kernel) refuses ``%matplotlib
    inline`` with "Implement enable_gui in a subclass"; in a task, plots are rendered by
    Agg and kept as the cell's outputs instead.
    """

    def __init__(self, shell: Any) -> None:
        from IPython.core.interactiveshell import InteractiveShell

        self._shell = shell
        # A kernel's own shell shows plots itself; only a plain one needs our %matplotlib.
        self._headless = type(shell).enable_gui is InteractiveShell.enable_gui

    def run_line_magic(self, magic: str, line: str, _stack_depth: int = 1) -> Any:
        if magic in ("matplotlib", "pylab") and self._headless:
            enable_matplotlib(line)
            if magic == "pylab":
                return self._shell.run_line_magic("pylab", "agg --no-import-all")
            return None
        return self._shell.run_line_magic(magic, line, _stack_depth + 1)

    def enable_gui(self, gui: str | None = None) -> None:
        """No event loop to start: figures render with Agg."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shell, name)


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
            log_quietly(self.logger, self.level, line.rstrip("\r"))

    def close(self) -> None:
        if self.partial:
            log_quietly(self.logger, self.level, self.partial)
            self.partial = ""


class Capture:
    """Where a running cell's stdout and stderr go: its log, its outputs (the collector of
    the cell running now), and the real stream if ``echo``."""

    __slots__ = ("streams", "echo", "collector")

    def __init__(self, streams: dict[str, _LineLog], echo: bool) -> None:
        self.streams = streams
        self.echo = echo
        self.collector: OutputCollector | None = None


_capture: contextvars.ContextVar[Capture | None] = contextvars.ContextVar(
    "jupyter_flows_cell_output", default=None
)


def current_capture() -> Capture | None:
    return _capture.get()


def log_quietly(logger: Any, level: int, message: str) -> None:
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
        if target.collector is not None:
            target.collector.stream(self.name, text)
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
def captured_output(logger: Any, echo: bool = False) -> Iterator[Capture | None]:
    """While inside: this context's stdout and stderr are ``logger``'s lines (None: no
    capture) and, once a collector is set on the capture, the cell's outputs."""
    if logger is None:
        yield None
        return
    _install_routers()
    streams = {"stdout": _LineLog(logger, 20), "stderr": _LineLog(logger, 30)}
    capture = Capture(streams, echo)
    token = _capture.set(capture)
    try:
        yield capture
    finally:
        _capture.reset(token)
        for stream in streams.values():
            stream.close()
