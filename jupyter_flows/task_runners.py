"""Task runners, where Prefect keeps them (``prefect.task_runners``)."""

from jupyter_flows.engine.runners import (
    DaskTaskRunner,
    SequentialTaskRunner,
    TaskRunner,
    ThreadPoolTaskRunner,
    task_runner_from_name,
)

__all__ = [
    "DaskTaskRunner",
    "SequentialTaskRunner",
    "TaskRunner",
    "ThreadPoolTaskRunner",
    "task_runner_from_name",
]
