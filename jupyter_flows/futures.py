"""Futures and waiting on them, where Prefect keeps them (``prefect.futures``)."""

from jupyter_flows.engine.futures import FutureList, TaskFuture, as_completed, wait

__all__ = ["FutureList", "TaskFuture", "as_completed", "wait"]
