"""jupyter-flows: notebooks, cells and scripts as observable, scheduled, reproducible flows.

``from jupyter_flows import flow, task`` is the Python API, compatible with Prefect's
``from prefect import flow, task``. Importing the package loads the engine alone; the
Jupyter server extension is imported only when Jupyter asks for it.
"""

try:
    from jupyter_flows._version import __version__
except ImportError:  # a source tree that was never built
    __version__ = "0.0.0+unknown"
from jupyter_flows.engine.context import get_run_context, tags
from jupyter_flows.engine.flow import Flow, flow
from jupyter_flows.engine.futures import TaskFuture, allow_failure, unmapped
from jupyter_flows.engine.logs import get_run_logger
from jupyter_flows.engine.states import State
from jupyter_flows.engine.task import Task, task

__all__ = [
    "Flow",
    "State",
    "Task",
    "TaskFuture",
    "__version__",
    "allow_failure",
    "flow",
    "get_run_context",
    "get_run_logger",
    "tags",
    "task",
    "unmapped",
]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext jupyter_flows``: the ``%flow`` magic (imported only then)."""
    from jupyter_flows.cli.magic import load_ipython_extension as load

    load(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-flows"}]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from jupyter_flows.server.app import FlowsApp

    return [{"module": "jupyter_flows.server.app", "app": FlowsApp}]
