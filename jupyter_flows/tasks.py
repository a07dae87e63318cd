"""Task helpers, where Prefect keeps them (``prefect.tasks``)."""

from jupyter_flows.engine.cache import task_input_hash
from jupyter_flows.engine.task import Task, exponential_backoff, task

__all__ = ["Task", "exponential_backoff", "task", "task_input_hash"]
